// One file: every field; edits of name, tags, purpose, metadata and public/private sent with
// `If-Match` (a conflict is explained and the edits kept); download; the public URL; delete with
// confirmation (into the trash where the collection keeps one); its versions (download, restore,
// delete the kept ones); "Shared with" (the file's grants) in collections with file security.
// Only what the signed-in person may do is offered. The page follows the file's status while it
// is open.

import { StowageError } from '@stowage/client'
import { rightsOn } from './access.js'
import { confirmation, field, formatBytes, formatTime, h, notice, show } from './dom.js'

const SHOWN = [
  ['id', 'Id'],
  ['collection', 'Collection'],
  ['status', 'Status'],
  ['failureReason', 'Failure'],
  ['kind', 'Kind'],
  ['mimeType', 'Type'],
  ['extension', 'Extension'],
  ['size', 'Size', formatBytes],
  ['expectedSize', 'Declared size', formatBytes],
  ['checksumSha256', 'SHA-256'],
  ['purpose', 'Purpose'],
  ['externalId', 'External id'],
  ['directory', 'Directory'],
  ['source', 'Source'],
  ['uploadedBy', 'Uploaded by'],
  ['createdAt', 'Created', formatTime],
  ['updatedAt', 'Updated', formatTime],
  ['uploadedAt', 'Uploaded', formatTime],
  ['expiresAt', 'Expires', formatTime],
  ['version', 'Version'],
]

/** Seconds between reads of a file whose status may still change. */
const FOLLOW_SECONDS = 2

/** A grant as the panel lists it: `user:bob` → `bob (user)`. */
function grantLabel(grant) {
  const [kind, ...name] = grant.principal.split(':')
  return `${name.join(':')} (${kind}) — ${grant.role}`
}

/**
 * The page of file `id`. `onBack()` returns to the list; `me` is who is signed in
 * (`{ user, groups, app }`).
 * @returns {{ element: HTMLElement, stop: () => void }}
 */
export function filePage(client, id, { onBack, me }) {
  const heading = h('h2', { tabindex: -1 }, 'File')
  const facts = h('dl', { class: 'facts' })
  const messages = h('div', { class: 'messages' })
  const actions = h('div', { class: 'actions' })
  const versions = h('section', { class: 'versions', 'aria-labelledby': 'versions-heading', hidden: true })
  const sharing = h('section', { class: 'sharing', 'aria-labelledby': 'sharing-heading', hidden: true })
  const editing = h('section', { class: 'editing', hidden: true })
  let record = null
  let collection = null
  let rights = { read: true, write: false, delete: false, share: false, upload: false }
  let timer = null

  const input = (name, label, attributes = {}) =>
    field(label, h('input', { name, ...attributes }))
  const form = h(
    'form',
    { class: 'edit', 'aria-label': 'Edit the file', onsubmit: save },
    input('name', 'Name', { required: true }),
    input('tags', 'Tags (comma-separated)'),
    input('purpose', 'Purpose'),
    field('Metadata (JSON object)', h('textarea', { name: 'metadata', rows: 4, spellcheck: 'false' })),
    h(
      'label',
      { class: 'check' },
      h('input', { name: 'public', type: 'checkbox' }),
      h('span', {}, 'Public: anyone with the link can download it'),
    ),
    h('button', { type: 'submit' }, 'Save changes'),
  )

  function fillForm(file) {
    form.elements.name.value = file.name
    form.elements.tags.value = file.tags.join(', ')
    form.elements.purpose.value = file.purpose ?? ''
    form.elements.metadata.value = JSON.stringify(file.metadata, null, 2)
    form.elements.public.checked = !file.privateAccess
  }

  function drawFacts(file) {
    heading.textContent = file.name
    show(
      facts,
      SHOWN.filter(([key]) => file[key] != null && file[key] !== '').map(([key, label, format]) => [
        h('dt', {}, label),
        h('dd', { dataset: { field: key } }, format ? format(file[key]) : String(file[key])),
      ]),
      h('dt', {}, 'Tags'),
      h('dd', { dataset: { field: 'tags' } }, file.tags.join(', ') || '—'),
      h('dt', {}, 'Metadata'),
      h('dd', { dataset: { field: 'metadata' } }, h('code', {}, JSON.stringify(file.metadata))),
      h('dt', {}, 'Access'),
      h('dd', { dataset: { field: 'privateAccess' } }, file.privateAccess ? 'private' : 'public'),
    )
    const publicUrl = !file.privateAccess && file.contentUrl
    show(
      actions,
      file.contentUrl
        ? h('a', { class: 'button', href: file.contentUrl, download: file.name }, 'Download')
        : null,
      publicUrl
        ? h(
            'span',
            { class: 'public-url' },
            field('Public URL', h('input', { name: 'publicUrl', readonly: true, value: publicUrl })),
            h(
              'button',
              {
                type: 'button',
                onclick: async () => {
                  await navigator.clipboard.writeText(publicUrl)
                  say('info', 'Public URL copied.')
                },
              },
              'Copy public URL',
            ),
          )
        : null,
      rights.delete ? h('button', { type: 'button', class: 'danger', onclick: confirmDelete }, 'Delete…') : null,
    )
    editing.hidden = !rights.write
    drawSharing(file)
  }

  /** "Shared with": the grants, and (for the owner and apps) adding and removing them. */
  function drawSharing(file) {
    sharing.hidden = !collection?.fileSecurity
    if (sharing.hidden) return
    const grants = file.grants ?? []
    const add = h(
      'form',
      { class: 'share', 'aria-label': 'Share the file', onsubmit: share },
      field('Share with', h('select', { name: 'kind' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'group' }, 'group'))),
      field('Name', h('input', { name: 'who', required: true, autocomplete: 'off', spellcheck: 'false' })),
      field('Role', h('select', { name: 'role' }, h('option', { value: 'reader' }, 'reader'), h('option', { value: 'writer' }, 'writer (may also change and delete)'))),
      h('button', { type: 'submit' }, 'Share'),
    )
    show(
      sharing,
      h('h3', { id: 'sharing-heading' }, 'Shared with'),
      grants.length
        ? h(
            'ul',
            { class: 'grants' },
            grants.map((grant) =>
              h(
                'li',
                { dataset: { principal: grant.principal } },
                h('span', {}, grantLabel(grant)),
                rights.share
                  ? h(
                      'button',
                      {
                        type: 'button',
                        'aria-label': `Stop sharing with ${grant.principal}`,
                        onclick: () => changeGrants(grants.filter((g) => g.principal !== grant.principal), `No longer shared with ${grant.principal}.`),
                      },
                      'Remove',
                    )
                  : null,
              ),
            ),
          )
        : h('p', {}, 'Nobody else: only the owner, apps and the collection\'s own access lists.'),
      rights.share ? add : h('p', { class: 'hint' }, 'Only the owner and apps change who it is shared with.'),
    )
  }

  /** "Versions": the current content and the ones the collection keeps, newest first. */
  async function loadVersions() {
    if (!record || record.status !== 'uploaded') {
      versions.hidden = true
      return
    }
    try {
      drawVersions(await client.files.versions(id))
    } catch (err) {
      versions.hidden = true
      say('error', `Versions: ${err.message}`)
    }
  }

  function drawVersions(items) {
    versions.hidden = items.length === 0
    if (versions.hidden) return
    const keeps = collection?.versions ?? 0
    show(
      versions,
      h('h3', { id: 'versions-heading' }, 'Versions'),
      h(
        'table',
        { class: 'versions' },
        h('caption', {}, 'The current content first, then the earlier ones kept, newest first'),
        h(
          'thead',
          {},
          h('tr', {}, ['Version', 'Size', 'Uploaded', 'Uploaded by', ''].map((c) => h('th', { scope: 'col' }, c))),
        ),
        h(
          'tbody',
          {},
          items.map((v) =>
            h(
              'tr',
              { dataset: { version: String(v.version), current: String(v.current) } },
              h('td', {}, String(v.version), v.current ? h('span', { class: 'current' }, ' (current)') : null),
              h('td', { class: 'number' }, formatBytes(v.size)),
              h('td', {}, formatTime(v.uploadedAt)),
              h('td', {}, v.uploadedBy),
              h(
                'td',
                { class: 'row-actions' },
                h('button', { type: 'button', 'aria-label': `Download version ${v.version}`, onclick: () => downloadVersion(v) }, 'Download'),
                // Restoring one is an upload of the file; deleting one needs the right to delete it.
                !v.current && rights.upload
                  ? h('button', { type: 'button', 'aria-label': `Restore version ${v.version}`, onclick: () => restoreVersion(v) }, 'Restore')
                  : null,
                !v.current && rights.delete
                  ? h(
                      'button',
                      { type: 'button', class: 'danger', 'aria-label': `Delete version ${v.version}`, onclick: () => deleteVersion(v) },
                      'Delete…',
                    )
                  : null,
              ),
            ),
          ),
        ),
      ),
      h(
        'p',
        { class: 'hint' },
        keeps > 0
          ? `${collection.name} keeps the ${keeps} newest earlier version${keeps === 1 ? '' : 's'} of each file.`
          : 'This collection keeps no earlier versions: a new upload replaces the content.',
      ),
    )
  }

  /**
   * Saves a version's bytes: the API answers with a redirect to a presigned URL, which a page
   * can only read by following it; the link then downloads from there (as an attachment).
   */
  async function downloadVersion(v) {
    try {
      const response = await client.request('GET', `/files/${encodeURIComponent(id)}/versions/${v.version}/content`, {
        query: { disposition: 'attachment' },
        raw: true,
        redirect: 'follow',
      })
      await response.body?.cancel().catch(() => {})
      const link = h('a', { href: response.url, download: record.name, hidden: true })
      document.body.append(link)
      link.click()
      link.remove()
    } catch (err) {
      say('error', err.message)
    }
  }

  async function restoreVersion(v) {
    try {
      record = await client.files.restoreVersion(id, v.version)
      drawFacts(record)
      say('info', `Version ${v.version} restored: it is the current content now.`)
    } catch (err) {
      say('error', err.message)
    }
    await reread()
  }

  async function deleteVersion(v) {
    const sure = await confirmation(
      `Delete version ${v.version} of ${record.name}?`,
      'Its bytes are deleted for good; the current content stays.',
      'Delete',
    )
    if (!sure) return
    try {
      await client.files.deleteVersion(id, v.version)
      say('info', `Version ${v.version} deleted.`)
    } catch (err) {
      say('error', err.message)
    }
    await reread()
  }

  /**
   * The record and its versions read again after a change of its versions (which changes its
   * version too: the next save or delete sends that one in `If-Match`). The form keeps what
   * the person typed.
   */
  async function reread() {
    if (!(await load({ refill: false }))) await loadVersions()
  }

  async function share(event) {
    event.preventDefault()
    const f = event.target.elements
    const principal = `${f.kind.value}:${f.who.value.trim()}`
    const rest = (record.grants ?? []).filter((g) => g.principal !== principal)
    await changeGrants([...rest, { principal, role: f.role.value }], `Shared with ${principal}.`)
  }

  async function changeGrants(grants, done) {
    try {
      record = await client.files.setGrants(id, grants, { ifMatch: record.version })
      drawFacts(record)
      say('info', done)
    } catch (err) {
      say('error', err.message)
    }
  }

  function say(kind, text) {
    show(messages, notice(kind, text))
  }

  async function load({ refill }) {
    try {
      const file = await client.files.get(id)
      const changed = !record || record.version !== file.version || record.contentUrl == null
      if (!collection || collection.name !== file.collection) {
        collection = await client.collections.get(file.collection).catch(() => null)
      }
      rights = rightsOn(me, collection, file)
      record = file
      drawFacts(file)
      if (refill) fillForm(file)
      if (changed) await loadVersions()
      return changed
    } catch (err) {
      say('error', err.message)
      return false
    }
  }

  async function save(event) {
    event.preventDefault()
    let metadata
    try {
      metadata = JSON.parse(form.elements.metadata.value || '{}')
    } catch (err) {
      say('error', `Metadata is not JSON: ${err.message}`)
      form.elements.metadata.focus()
      return
    }
    const patch = {
      name: form.elements.name.value,
      tags: form.elements.tags.value.split(',').map((t) => t.trim()).filter(Boolean),
      purpose: form.elements.purpose.value.trim() || null,
      metadata,
      privateAccess: !form.elements.public.checked,
    }
    // Metadata is replaced, not merged: keys removed in the form go.
    if (record) {
      for (const key of Object.keys(record.metadata)) if (!(key in metadata)) patch.metadata[key] = null
    }
    try {
      record = await client.files.update(id, patch, { ifMatch: record.version })
      drawFacts(record)
      say('info', `Saved (version ${record.version}).`)
    } catch (err) {
      if (err instanceof StowageError && err.code === 'version_mismatch') {
        await load({ refill: false })
        say(
          'error',
          `Not saved: the file was changed elsewhere since you opened it (it is now version ${record.version}, shown above). Your edits are still in the form; check them against the new values and save again.`,
        )
      } else {
        say('error', err.message)
      }
    }
  }

  /**
   * Where a delete sends the file: `'trash'` (the collection keeps one), `'maybe'` (the
   * collection follows the deployment's setting, which the console cannot read) or `'gone'`.
   * Temp files and files never uploaded skip the trash.
   */
  function deleteGoes() {
    const days = collection?.trashDays
    if (record?.kind !== 'client' || record?.status !== 'uploaded' || days === 0) return 'gone'
    return days == null ? 'maybe' : 'trash'
  }

  async function confirmDelete() {
    const goes = deleteGoes()
    const days = collection?.trashDays
    const text = {
      gone: 'The file and its bytes are deleted for good.',
      trash: `It goes to the trash: it can be restored from there for ${days} day${days === 1 ? '' : 's'}, then it is deleted for good.`,
      maybe: "It goes to the trash if this deployment keeps deleted files (this collection follows the deployment's setting); otherwise the file and its bytes are deleted for good.",
    }[goes]
    if (!(await confirmation(`Delete ${record?.name ?? 'this file'}?`, text, 'Delete'))) return
    try {
      await client.files.delete(id, { ifMatch: record.version })
      // Whether it went to the trash: it is found there.
      const trashed = goes !== 'gone' && (await client.files.get(id, { trashed: true }).then(() => true, () => false))
      onBack(trashed ? `${record.name} was moved to the trash.` : `${record.name} was deleted.`)
    } catch (err) {
      say('error', err.message)
    }
  }

  load({ refill: true }).then(() => heading.focus())
  timer = setInterval(async () => {
    if (document.visibilityState !== 'visible') return
    // Status changes (an upload landing, a failure) show without a reload; the form keeps
    // what the person typed.
    if (record && record.status === 'pending') await load({ refill: false })
  }, FOLLOW_SECONDS * 1000)

  const element = h(
    'section',
    { class: 'file' },
    h('p', {}, h('a', { href: '#/', onclick: (e) => { e.preventDefault(); onBack() } }, '← All files')),
    heading,
    messages,
    actions,
    facts,
    versions,
    sharing,
    editing,
  )
  editing.append(h('h3', {}, 'Edit'), form)
  return { element, stop: () => clearInterval(timer) }
}
