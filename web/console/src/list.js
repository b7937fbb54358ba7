// The file list: the API's filters, newest first, paged with the cursor, kept current while
// the console is open: drawn again on each change the realtime channel reports, and read every
// 2 s only while that channel is not live. "Trash" switches it to the files deleted in
// collections that keep a trash (`trashDays`), with the same filters: when each was deleted and
// when it goes for good, "Restore" and "Delete forever" for whoever may delete it.

import { rightsOn } from './access.js'
import { confirmation, field as labelled, formatBytes, formatTime, h, notice, show } from './dom.js'

const STATUSES = ['', 'pending', 'uploaded', 'failed']
const KINDS = ['', 'client', 'temp']
/** Seconds between refreshes of the page on screen. */
const REFRESH_SECONDS = 2
/** A thumbnail still being made is asked for again this often, this many times. */
const THUMBNAIL_RETRY_MS = 1000
const THUMBNAIL_ATTEMPTS = 30

/**
 * The list view. `onOpen(id)` opens a file; `onRefused(error)` is told when the API refuses the
 * token; `me` is who is signed in (`{ user, groups, app }`), for what the trash offers.
 * @returns {{ element: HTMLElement, refresh: () => Promise<void>, stop: () => void }}
 */
export function fileList(client, { me, onOpen, onRefused }) {
  const filters = { name: '', tag: '', status: '', kind: '', purpose: '', directoryPrefix: '', collection: '' }
  /** Cursors of the pages before this one; the last is this page's. */
  const cursors = [null]
  const results = h('div', { id: 'results', 'aria-live': 'polite' })
  const messages = h('div', { class: 'messages' })
  const thumbnails = new Map()
  /** Whether the trash is shown instead of the live files. */
  let trash = false
  /** The collections by name, read when the trash is shown (whose rules say who may restore). */
  let rules = null

  const heading = h('h2', { id: 'files-heading' }, 'Files')
  const viewButton = (label, value) =>
    h('button', { type: 'button', 'aria-pressed': String(value === trash), onclick: () => setTrash(value) }, label)
  const views = h('div', { class: 'views', role: 'group', 'aria-label': 'Show' })
  function drawViews() {
    show(views, viewButton('Files', false), viewButton('Trash', true))
  }
  drawViews()

  function setTrash(value) {
    if (trash === value) return
    trash = value
    rules = null
    heading.textContent = trash ? 'Trash' : 'Files'
    drawViews()
    show(messages)
    cursors.splice(0, cursors.length, null)
    drawn = null
    refresh()
  }

  function say(kind, text) {
    show(messages, notice(kind, text))
  }

  const field = (name, label, control) => labelled(label, control(name))
  const text = (name) =>
    h('input', {
      name,
      type: 'search',
      value: filters[name],
      oninput: (e) => {
        filters[name] = e.target.value
      },
    })
  const choice = (values) => (name) =>
    h(
      'select',
      {
        name,
        onchange: (e) => {
          filters[name] = e.target.value
        },
      },
      values.map((v) => h('option', { value: v }, v || 'any')),
    )

  const form = h(
    'form',
    {
      class: 'filters',
      role: 'search',
      'aria-label': 'Filter files',
      onsubmit: (e) => {
        e.preventDefault()
        cursors.splice(0, cursors.length, null)
        refresh()
      },
    },
    field('name', 'Name', text),
    field('tag', 'Tag', text),
    field('status', 'Status', choice(STATUSES)),
    field('kind', 'Kind', choice(KINDS)),
    field('purpose', 'Purpose', text),
    field('directoryPrefix', 'Directory', text),
    h('button', { type: 'submit' }, 'Filter'),
  )

  /**
   * A 64 px thumbnail: `{ url }` (an object URL), `{ pending: true }` while it is being made, or
   * `null` when the file gets none (or it could not be read).
   */
  function askThumbnail(id) {
    return client.files.thumbnail(id, { size: 64 }).then(
      (answer) => (answer.status === 'ready' ? { url: URL.createObjectURL(answer.blob) } : answer.status === 'pending' ? { pending: true } : null),
      () => null,
    )
  }

  /** The 64 px thumbnail of an uploaded image, asked for again while it is being made. */
  async function thumbnail(file, cell) {
    if (!file.mimeType.toLowerCase().startsWith('image/') || file.status !== 'uploaded') return
    // A new upload is a new version, with new thumbnails.
    const key = `${file.id}@${file.version}`
    for (let attempt = 0; attempt < THUMBNAIL_ATTEMPTS; attempt++) {
      if (!thumbnails.has(key)) thumbnails.set(key, askThumbnail(file.id))
      const answer = await thumbnails.get(key)
      if (answer?.url) {
        cell.append(h('img', { src: answer.url, alt: '', width: 32, height: 32 }))
        return
      }
      if (!answer?.pending) return
      thumbnails.delete(key)
      await new Promise((ok) => setTimeout(ok, THUMBNAIL_RETRY_MS))
      // Drawn again meanwhile: the new row asks for itself.
      if (!cell.isConnected) return
    }
  }

  function row(file) {
    const picture = h('td', { class: 'thumb' })
    thumbnail(file, picture)
    return h(
      'tr',
      { dataset: { id: file.id, status: file.status } },
      picture,
      h(
        'td',
        {},
        h(
          'a',
          {
            href: `#/files/${file.id}`,
            onclick: (e) => {
              e.preventDefault()
              onOpen(file.id)
            },
          },
          file.name,
        ),
      ),
      h('td', { class: `status status-${file.status}` }, file.status),
      h('td', { class: 'number' }, formatBytes(file.size ?? file.expectedSize)),
      h('td', {}, file.mimeType),
      h('td', {}, file.tags.map((t) => h('span', { class: 'tag' }, t))),
      h('td', {}, formatTime(file.createdAt)),
      h('td', {}, file.collection),
    )
  }

  /** A file in the trash: no page to open (it is not found there), its times and actions. */
  function trashRow(file) {
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

  async function restore(file) {
    try {
      await client.files.restore(file.id)
      say('info', `${file.name} was restored.`)
    } catch (err) {
      say('error', err.message)
    }
    drawn = null
    refresh()
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
      say('info', `${file.name} was deleted for good.`)
    } catch (err) {
      say('error', err.message)
    }
    drawn = null
    refresh()
  }

  /** The table of a page: the live files, or the trash. */
  function table(items) {
    if (trash) {
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
        h('tbody', {}, items.map(trashRow)),
      )
    }
    return h(
      'table',
      { class: 'files' },
      h('caption', {}, 'Files, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['', 'Name', 'Status', 'Size', 'Type', 'Tags', 'Created', 'Collection'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h('tbody', {}, items.map(row)),
    )
  }

  let inFlight = null
  /** A refresh was asked for while one was in flight: its answer may predate the change. */
  let again = false
  /** What is on screen; an unchanged page is not drawn again (focus and scroll stay put). */
  let drawn = null
  async function refresh() {
    if (inFlight) {
      again = true
      return inFlight
    }
    inFlight = (async () => {
      try {
        const shown = trash
        const page = await client.files.page({ ...filters, trashed: shown || undefined, cursor: cursors.at(-1), limit: 25 })
        // Switched meanwhile: the page read is not what is to be shown.
        if (shown !== trash) return
        if (trash && (!rules || page.items.some((f) => !rules.has(f.collection)))) {
          const known = await client.collections.list().catch(() => [])
          rules = new Map(known.map((c) => [c.name, c]))
        }
        const signature = JSON.stringify([trash, cursors.length, page.nextCursor, page.items.map((f) => [f.id, f.version])])
        if (signature === drawn) return
        drawn = signature
        const pager = h(
          'nav',
          { class: 'pager', 'aria-label': 'Pages' },
          h(
            'button',
            {
              type: 'button',
              disabled: cursors.length === 1,
              onclick: () => {
                cursors.pop()
                refresh()
              },
            },
            'Previous page',
          ),
          h(
            'button',
            {
              type: 'button',
              disabled: !page.nextCursor,
              onclick: () => {
                cursors.push(page.nextCursor)
                refresh()
              },
            },
            'Next page',
          ),
        )
        show(
          results,
          page.items.length === 0
            ? notice('info', trash ? 'The trash holds no files that match.' : 'No files match.')
            : table(page.items),
          pager,
        )
      } catch (err) {
        drawn = null
        if (err.status === 401 && onRefused) return onRefused(err)
        show(results, notice('error', err.message))
      } finally {
        inFlight = null
        // Read once more for what was reported during this read (a realtime event, a click).
        if (again) {
          again = false
          refresh()
        }
      }
    })()
    return inFlight
  }

  let live = false
  const timer = setInterval(() => {
    if (!live && document.visibilityState === 'visible') refresh()
  }, REFRESH_SECONDS * 1000)
  let pending = null

  return {
    element: h(
      'section',
      { class: 'list', 'aria-labelledby': 'files-heading' },
      h('div', { class: 'list-head' }, heading, views),
      form,
      messages,
      results,
    ),
    refresh,
    /** Shows one collection (`''`: every one), from its first page. */
    setCollection(name) {
      filters.collection = name
      cursors.splice(0, cursors.length, null)
      refresh()
    },
    /** Whether the realtime channel is live (then the list is not polled). */
    setLive(on) {
      live = on
    },
    /** A change was reported: draw the page again (changes close together draw once). */
    changed() {
      if (pending) return
      pending = setTimeout(() => {
        pending = null
        refresh()
      }, 50)
    },
    stop: () => {
      clearInterval(timer)
      clearTimeout(pending)
    },
  }
}
