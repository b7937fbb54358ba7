// The trash in the console: the files deleted in collections that keep a trash (`trashDays`),
// when each was deleted and when it goes for good, and "Restore" and "Delete forever" for
// whoever may delete it.

import { rightsOn } from './access.js'
import { confirmation, formatBytes, formatTime, h } from './dom.js'

/**
 * The trash's table. `me` is who is signed in; `done(message)` redraws after a change (saying
 * `message`); `say(kind, text)` reports.
 * @returns {{ table: (items: object[], rules: Map<string, object> | null) => HTMLElement }}
 */
export function trashTable(client, { me, done, say }) {
  async function restore(file) {
    try {
      await client.files.restore(file.id)
      done(`${file.name} was restored.`)
    } catch (err) {
      say('error', err.message)
      done(null)
    }
  }

  async function deleteForever(file) {
    const sure = await confirmation(
      `Delete ${file.name} forever?`,
      'The file, its bytes and its versions are deleted for good; it cannot be restored.',
      'Delete forever',
    )
    if (!sure) return
    try {
      await client.files.delete(file.id, { permanent: true })
      done(`${file.name} was deleted for good.`)
    } catch (err) {
      say('error', err.message)
      done(null)
    }
  }

  /** A file in the trash: no page to open (it is not found there), its times and actions. */
  function row(file, rules) {
    const rights = me ? rightsOn(me, rules?.get(file.collection) ?? null, file) : { delete: true }
    return h(
      'tr',
      { dataset: { id: file.id } },
      h('td', {}, file.name),
      h('td', { class: 'number' }, formatBytes(file.size ?? file.expectedSize)),
      h('td', {}, file.mimeType),
      h('td', {}, file.collection),
      h('td', { dataset: { field: 'trashedAt' } }, formatTime(file.trashedAt)),
      h('td', { dataset: { field: 'purgeAt' } }, formatTime(file.purgeAt)),
      h(
        'td',
        { class: 'row-actions' },
        // Restoring and deleting for good both need the right to delete the file.
        rights.delete
          ? [
              h('button', { type: 'button', 'aria-label': `Restore ${file.name}`, onclick: () => restore(file) }, 'Restore'),
              h(
                'button',
                { type: 'button', class: 'danger', 'aria-label': `Delete ${file.name} forever`, onclick: () => deleteForever(file) },
                'Delete forever…',
              ),
            ]
          : null,
      ),
    )
  }

  return {
    table(items, rules) {
      return h(
        'table',
        { class: 'files trash' },
        h('caption', {}, 'Deleted files, newest first; each is deleted for good at the time shown'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Name', 'Size', 'Type', 'Collection', 'Deleted', 'Deleted for good', ''].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h('tbody', {}, items.map((file) => row(file, rules))),
      )
    },
  }
}
