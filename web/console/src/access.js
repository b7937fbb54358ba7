// What the signed-in person may do, so the console offers only that: the same rules
// the API applies (`shared/src/model/access.rs`), from the token's user, groups and scopes, the
// file's collection and the file. The API still decides; this only keeps dead buttons away.

/**
 * The groups a claim lists, in every form it arrives in: a JSON array, `"[a b]"` (API Gateway's
 * rendering of an array), or a space- or comma-separated string. At most 32, as the API reads.
 */
export function groupsOf(claim) {
  let names = []
  if (Array.isArray(claim)) names = claim
  else if (typeof claim === 'string') {
    const text = claim.trim()
    try {
      const parsed = JSON.parse(text)
      if (Array.isArray(parsed)) names = parsed
    } catch {
      names = text.replace(/^\[(.*)\]$/s, '$1').split(/[\s,]+/)
    }
  }
  const valid = names.filter((n) => typeof n === 'string' && n && !/[\s,[\]"]/.test(n))
  return [...new Set(valid)].slice(0, 32)
}

/** Whether an access list (`tenant`, `user:<id>`, `group:<g>`) lets `me` in. */
function listed(me, list) {
  return (
    me.app ||
    (list ?? ['tenant']).some(
      (entry) => entry === 'tenant' || entry === `user:${me.user}` || me.groups.some((g) => entry === `group:${g}`),
    )
  )
}

function isMe(me, principal) {
  return principal === `user:${me.user}` || me.groups.some((g) => principal === `group:${g}`)
}

/**
 * `me`'s rights on `file` in `collection` (as `GET /collections/{name}` shows it):
 * `{ read, write, delete, share, upload }`.
 */
export function rightsOn(me, collection, file) {
  const access = collection?.access ?? {}
  const owner = me.app || file.uploadedBy === me.user
  const security = Boolean(collection?.fileSecurity)
  const granted = (writer) =>
    security && (file.grants ?? []).some((g) => isMe(me, g.principal) && (!writer || g.role === 'writer'))
  const sees = listed(me, access.read)
  const write = owner || (sees && listed(me, access.write)) || granted(true)
  const overwrite = collection?.overwrite ?? 'writers'
  return {
    read: owner || sees || granted(false),
    write,
    delete: owner || (sees && listed(me, access.delete)) || granted(true),
    share: owner && security,
    upload:
      write &&
      (file.status !== 'uploaded' || overwrite === 'writers' || (overwrite === 'owner' ? owner : me.app)),
  }
}

/** Whether `me` may create files in `collection`. */
export function mayCreate(me, collection) {
  return listed(me, collection?.access?.write)
}
