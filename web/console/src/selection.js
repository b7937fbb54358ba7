// What the console does to several files at once: the bar that shows while files are selected,
// with Move to…, Copy to…, Download links and Delete….

import { ask, confirmation, h, show, showDialog } from './dom.js'

/** Most ids one batch call takes (`PATCH /files`, `POST /files/links`). */
const BATCH = 100

function chunks(items) {
  const out = []
  for (let at = 0; at < items.length; at += BATCH) out.push(items.slice(at, at + BATCH))
  return out
}

/** Moves files (ids) into the folder `path`, 100 at a time, each batch all or nothing. */
export async function moveFiles(client, ids, path) {
  for (const batch of chunks(ids)) {
    await client.files.updateMany(batch.map((id) => ({ id, directory: path })))
  }
}

/**
 * The selection bar. `selected` is a Map of id → file; `folder()` is where the list is;
 * `done(message)` redraws after a change; `say(kind, text)` reports.
 * @returns {{ element: HTMLElement, draw: () => void }}
 */
export function selectionBar(client, { selected, folder, done, say }) {
  const count = h('span', { class: 'count', role: 'status' })
  const names = () => [...selected.values()].map((f) => f.name)
  const ids = () => [...selected.keys()]

  const files = (n) => (n === 1 ? '1 file' : `${n} files`)

  async function act(work, message) {
    try {
      await work()
      selected.clear()
      done(message)
    } catch (err) {
      say('error', err.message)
      done(null)
    }
  }

  async function moveTo() {
    const path = await ask(`Move ${files(selected.size)}`, 'To folder', folder(), 'Move')
    if (!path) return
    act(() => moveFiles(client, ids(), path), `Moved ${files(selected.size)} to ${path}.`)
  }

  async function copyTo() {
    const path = await ask(`Copy ${files(selected.size)}`, 'To folder', folder(), 'Copy')
    if (!path) return
    act(async () => {
      for (const id of ids()) await client.files.copy(id, { directory: path })
    }, `Copied ${files(selected.size)} to ${path}.`)
  }

  async function links() {
    try {
      const rows = []
      for (const batch of chunks(ids())) {
        const answer = await client.files.links(batch, { expiresIn: 3600 })
        for (const link of answer.items) {
          const file = selected.get(link.id)
          rows.push(h('li', {}, h('a', { href: link.url, download: file?.name ?? '' }, file?.name ?? link.id)))
        }
        for (const id of answer.notUploaded ?? []) rows.push(h('li', {}, `${selected.get(id)?.name ?? id}: no content yet`))
      }
      await showDialog('Download links (valid for an hour)', h('ul', { class: 'links' }, rows))
    } catch (err) {
      say('error', err.message)
    }
  }

  async function remove() {
    const list = names()
    const sure = await confirmation(
      `Delete ${files(list.length)}?`,
      `${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}: into the trash where their collection keeps one, else for good.`,
      'Delete',
    )
    if (!sure) return
    act(() => client.files.deleteMany(ids()), `Deleted ${files(list.length)}.`)
  }

  const element = h(
    'div',
    { class: 'selection', role: 'toolbar', 'aria-label': 'Selected files', hidden: true },
    count,
    h('button', { type: 'button', onclick: moveTo }, 'Move to…'),
    h('button', { type: 'button', onclick: copyTo }, 'Copy to…'),
    h('button', { type: 'button', onclick: links }, 'Download links'),
    h('button', { type: 'button', class: 'danger', onclick: remove }, 'Delete selected…'),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          selected.clear()
          done(null)
        },
      },
      'Clear selection',
    ),
  )

  return {
    element,
    draw() {
      element.hidden = selected.size === 0
      show(count, `${selected.size} selected`)
    },
  }
}
