// The collection picker: which collection the list shows and uploads go to, and a view of the
// chosen collection's rules and usage. Apps (`files:admin` tokens) may edit the rules there;
// members see them read-only (the API refuses members' edits, so none are offered).

import { field, formatBytes, h, notice, show } from './dom.js'

/** A rule's value as the view shows it. */
function rule(value, format = String) {
  return value == null ? 'none' : format(value)
}

/** An access list as the view shows it. */
function access(list) {
  const entries = list ?? ['tenant']
  if (!entries.length) return 'nobody through the collection (owners, grants and apps only)'
  return entries.map((e) => (e === 'tenant' ? 'every member' : e)).join(', ')
}

/** `"a, b"` → `["a", "b"]`; empty → `null` (the rule removed). */
function list(text) {
  const items = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
  return items.length ? items : null
}

/** A whole number from a field, or `null` when empty (the rule removed). */
function whole(text) {
  const trimmed = text.trim()
  return trimmed === '' ? null : Number(trimmed)
}

/**
 * The picker. `onChange(name)` is told the chosen collection (`''`: every collection, and
 * uploads go to `default`); `onTarget(collection)` the collection uploads go to, as listed,
 * whenever it is chosen or read again. `admin`: whether the token may edit rules.
 * @returns {{ element: HTMLElement, refresh: () => Promise<void>, current: () => string }}
 */
export function collectionPicker(client, { admin, onChange, onTarget = () => {} }) {
  let chosen = ''
  let known = []
  const select = h('select', {
    name: 'collection',
    onchange: (e) => {
      chosen = e.target.value
      onChange(chosen)
      target()
      draw()
    },
    // A collection made elsewhere shows up the next time the picker is opened.
    onfocus: () => refresh(),
  })
  const details = h('div', { class: 'collection-details', 'aria-live': 'polite' })

  function target() {
    onTarget(known.find((c) => c.name === (chosen || 'default')) ?? null)
  }

  function options() {
    show(
      select,
      h('option', { value: '' }, 'All collections'),
      known.map((c) => h('option', { value: c.name, selected: c.name === chosen }, c.name)),
    )
    select.value = chosen
  }

  async function refresh() {
    try {
      known = await client.collections.list()
      if (chosen && !known.some((c) => c.name === chosen)) {
        chosen = ''
        onChange(chosen)
      }
      target()
      if (!select.matches(':focus')) options()
      else if (select.options.length !== known.length + 1) options()
    } catch (err) {
      show(details, notice('error', `Collections: ${err.message}`))
    }
  }

  function editor(collection) {
    const input = (name, value, attributes = {}) =>
      h('input', { name, value: value ?? '', autocomplete: 'off', ...attributes })
    const form = h(
      'form',
      {
        class: 'collection-edit',
        'aria-label': `Edit the rules of ${collection.name}`,
        onsubmit: async (e) => {
          e.preventDefault()
          const f = form.elements
          const patch = {
            allowedMimeTypes: list(f.allowedMimeTypes.value),
            maxFileSize: whole(f.maxFileSize.value),
            requireSize: f.requireSize.checked,
            maxBytes: whole(f.maxBytes.value),
            maxFiles: whole(f.maxFiles.value),
            versions: whole(f.versions.value),
            trashDays: whole(f.trashDays.value),
          }
          try {
            await client.collections.update(collection.name, patch, { ifMatch: collection.version })
            draw('Rules saved.')
          } catch (err) {
            show(status, notice('error', err.message))
          }
        },
      },
      field('Allowed types (comma-separated; empty: any)', input('allowedMimeTypes', collection.allowedMimeTypes?.join(', '))),
      field('Max file size (bytes; empty: none)', input('maxFileSize', collection.maxFileSize, { inputmode: 'numeric' })),
      field('Max bytes (empty: none)', input('maxBytes', collection.maxBytes, { inputmode: 'numeric' })),
      field('Max files (empty: none)', input('maxFiles', collection.maxFiles, { inputmode: 'numeric' })),
      field('Earlier versions kept (0–100)', input('versions', collection.versions ?? 0, { inputmode: 'numeric' })),
      field("Days in the trash (0: deletes are immediate; empty: the deployment's)", input('trashDays', collection.trashDays, { inputmode: 'numeric' })),
      h(
        'label',
        { class: 'check' },
        h('input', { name: 'requireSize', type: 'checkbox', checked: collection.requireSize }),
        h('span', {}, 'Uploads must declare their size'),
      ),
      h('button', { type: 'submit', class: 'primary' }, 'Save rules'),
    )
    const status = h('div')
    return h('div', {}, form, status)
  }

  async function draw(message) {
    if (!chosen) {
      show(details)
      return
    }
    try {
      const [collection, usage] = await Promise.all([client.collections.get(chosen), client.usage()])
      const used = usage.collections[chosen] ?? { bytes: 0, files: 0 }
      const defaults = Object.entries(collection.defaults ?? {})
      const rows = [
        ['Allowed types', rule(collection.allowedMimeTypes, (t) => t.join(', ')).replace('none', 'any')],
        ['Max file size', rule(collection.maxFileSize, formatBytes)],
        ['Size required', collection.requireSize ? 'yes' : 'no'],
        ['Defaults', defaults.length ? defaults.map(([k, v]) => `${k}: ${v}`).join(', ') : 'none'],
        ['Max upload URL lifetime', rule(collection.maxUploadUrlExpiresIn, (s) => `${s} s`)],
        ['Who reads', access(collection.access?.read)],
        ['Who writes', access(collection.access?.write)],
        ['Who deletes', access(collection.access?.delete)],
        ['File security', collection.fileSecurity ? 'on: files may be shared with users and groups' : 'off'],
        ['Earlier versions kept', String(collection.versions ?? 0)],
        [
          'Trash',
          collection.trashDays == null
            ? "the deployment's setting"
            : collection.trashDays === 0
              ? 'none: deletes are immediate'
              : `${collection.trashDays} day${collection.trashDays === 1 ? '' : 's'}, then deleted for good`,
        ],
        ['Uploads over an uploaded file', { writers: 'whoever may write it', owner: 'its owner (and apps)', apps: 'apps only' }[collection.overwrite ?? 'writers']],
        ['Files', `${used.files}${collection.maxFiles == null ? '' : ` of ${collection.maxFiles}`}`],
        [
          'Stored',
          `${formatBytes(used.bytes)}${collection.maxBytes == null ? '' : ` of ${formatBytes(collection.maxBytes)}`}`,
        ],
      ]
      show(
        details,
        message ? notice('info', message) : null,
        h(
          'table',
          { class: 'rules' },
          h('caption', {}, `Rules and usage of ${chosen}`),
          h(
            'tbody',
            {},
            rows.map(([name, value]) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, value))),
          ),
        ),
        admin
          ? h('details', { class: 'collection-admin' }, h('summary', {}, 'Edit rules'), editor(collection))
          : null,
      )
    } catch (err) {
      show(details, notice('error', err.message))
    }
  }

  options()
  return {
    element: h(
      'section',
      { class: 'collections', 'aria-labelledby': 'collections-heading' },
      h('h2', { id: 'collections-heading' }, 'Collections'),
      field('Collection', select),
      details,
    ),
    refresh: async () => {
      await refresh()
      if (chosen) await draw()
    },
    current: () => chosen,
  }
}
