// The file manager: one folder at a time (breadcrumbs, its subfolders, its files), a search
// by words of names (in the folder and below), the API's filters, columns that sort, a list or
// a grid of thumbnails, and a selection to move, copy, link or delete; files and folders drop
// onto folders. Kept current while the console is open: drawn again on each change the
// realtime channel reports, and read every 2 s only while that channel is not live. "Trash"
// switches it to the files deleted in collections that keep a trash (`trashDays`), with the
// same filters: when each was deleted and when it goes for good, "Restore" and "Delete forever"
// for whoever may delete it.

import { field as labelled, formatBytes, formatTime, h, notice, show } from './dom.js'
import { FILES_TYPE, folderBar } from './folders.js'
import { moveFiles, selectionBar } from './selection.js'
import { trashTable } from './trash.js'

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
export function fileList(client, { me, onOpen, onRefused, onFolder }) {
  const filters = { q: '', name: '', tag: '', status: '', kind: '', purpose: '', collection: '' }
  /** The folder shown. */
  let folder = '/'
  /** The order: `-createdAt`, `createdAt`, `name` or `-name`. */
  let sort = '-createdAt'
  /** A grid of thumbnails instead of the table. */
  let grid = false
  /** The files selected, by id. */
  const selected = new Map()
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
  const layoutButton = (label, value) =>
    h(
      'button',
      {
        type: 'button',
        'aria-pressed': String(value === grid),
        onclick: () => {
          grid = value
          drawLayouts()
          drawn = null
          refresh()
        },
      },
      label,
    )
  const layouts = h('div', { class: 'views', role: 'group', 'aria-label': 'Layout' })
  function drawLayouts() {
    show(layouts, layoutButton('List', false), layoutButton('Grid', true))
  }
  drawLayouts()

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

  /** Shows `path`, from its first page. */
  function open(path) {
    folder = path
    selected.clear()
    cursors.splice(0, cursors.length, null)
    drawn = null
    onFolder?.(path)
    refresh()
  }

  /** After a change made here: say what happened, and draw the page again. */
  function changed(message) {
    if (message) say('info', message)
    drawn = null
    refresh()
  }

  const folders = folderBar(client, {
    open,
    say,
    moveFiles: async (ids, path) => {
      try {
        await moveFiles(client, ids, path)
        for (const id of ids) selected.delete(id)
        changed(`Moved ${ids.length === 1 ? 'a file' : `${ids.length} files`} to ${path}.`)
      } catch (err) {
        say('error', err.message)
      }
    },
    moveFolder: async (from, to) => {
      try {
        const { moved, skipped } = await client.folders.move(from, to)
        const files = moved === 1 ? '1 file' : `${moved} files`
        changed(`Moved ${from} to ${to} (${files}${skipped ? `; ${skipped} you may not change stayed` : ''}).`)
      } catch (err) {
        say('error', err.message)
      }
    },
  })
  const selection = selectionBar(client, { selected, folder: () => folder, done: changed, say })
  const trashView = trashTable(client, { me, done: changed, say })

  /** The query of the page shown: the folder's files, or a search in it and below. */
  function query() {
    const q = Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== ''))
    if (trash) return { ...q, trashed: true }
    if (q.q) {
      if (folder !== '/') q.directoryPrefix = folder
    } else {
      q.directory = folder
    }
    // A name order needs a folder or a collection: a search across folders keeps its default.
    if (!(sort === 'name' || sort === '-name') || q.directory || q.collection) q.sort = sort
    return q
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
    field('q', 'Search names', text),
    field('name', 'Name', text),
    field('tag', 'Tag', text),
    field('status', 'Status', choice(STATUSES)),
    field('kind', 'Kind', choice(KINDS)),
    field('purpose', 'Purpose', text),
    h('button', { type: 'submit' }, 'Filter'),
  )

  /**
   * A 64 px thumbnail: `{ url }` (an object URL), `{ pending: true }` while it is being made, or
   * `null` when the file gets none (or it could not be read).
   */
  function askThumbnail(id, size) {
    return client.files.thumbnail(id, { size }).then(
      (answer) => (answer.status === 'ready' ? { url: URL.createObjectURL(answer.blob) } : answer.status === 'pending' ? { pending: true } : null),
      () => null,
    )
  }

  /**
   * The thumbnail of an uploaded image (64 px drawn at 32 in the list, 256 drawn at 128 in the
   * grid), asked for again while it is being made.
   */
  async function thumbnail(file, cell, size = 64) {
    if (!file.mimeType.toLowerCase().startsWith('image/') || file.status !== 'uploaded') return
    // A new upload is a new version, with new thumbnails.
    const key = `${file.id}@${file.version}@${size}`
    for (let attempt = 0; attempt < THUMBNAIL_ATTEMPTS; attempt++) {
      if (!thumbnails.has(key)) thumbnails.set(key, askThumbnail(file.id, size))
      const answer = await thumbnails.get(key)
      if (answer?.url) {
        cell.append(h('img', { src: answer.url, alt: '', width: size / 2, height: size / 2 }))
        return
      }
      if (!answer?.pending) return
      thumbnails.delete(key)
      await new Promise((ok) => setTimeout(ok, THUMBNAIL_RETRY_MS))
      // Drawn again meanwhile: the new row asks for itself.
      if (!cell.isConnected) return
    }
  }

  /** A checkbox that selects `file`. */
  function picker(file) {
    return h('input', {
      type: 'checkbox',
      'aria-label': `Select ${file.name}`,
      checked: selected.has(file.id),
      onchange: (e) => {
        if (e.target.checked) selected.set(file.id, file)
        else selected.delete(file.id)
        selection.draw()
      },
    })
  }

  /** Dragging a file drags the selection it is part of, or it alone. */
  function dragged(file) {
    return (e) => {
      const ids = selected.has(file.id) ? [...selected.keys()] : [file.id]
      e.dataTransfer.setData(FILES_TYPE, JSON.stringify(ids))
      e.dataTransfer.effectAllowed = 'move'
    }
  }

  function nameLink(file) {
    return h(
      'a',
      {
        href: `#/files/${file.id}`,
        onclick: (e) => {
          e.preventDefault()
          onOpen(file.id)
        },
      },
      file.name,
    )
  }

  /** Where a file found by a search is (the folder view needs no such line). */
  const whereIs = (file) => (filters.q ? h('span', { class: 'where' }, file.directory ?? '/') : null)

  function row(file) {
    const picture = h('td', { class: 'thumb' })
    thumbnail(file, picture)
    return h(
      'tr',
      { dataset: { id: file.id, status: file.status }, draggable: 'true', ondragstart: dragged(file) },
      h('td', { class: 'pick' }, picker(file)),
      picture,
      h('td', {}, nameLink(file), whereIs(file)),
      h('td', { class: `status status-${file.status}` }, file.status),
      h('td', { class: 'number' }, formatBytes(file.size ?? file.expectedSize)),
      h('td', {}, file.mimeType),
      h('td', {}, file.tags.map((t) => h('span', { class: 'tag' }, t))),
      h('td', {}, formatTime(file.createdAt)),
      h('td', {}, file.collection),
    )
  }

  /** A card of the grid: the thumbnail, the name, the size. */
  function card(file) {
    // Until (or unless) there is a thumbnail, the file's kind by its extension.
    const picture = h('div', { class: 'thumb' }, h('span', { class: 'kind', 'aria-hidden': 'true' }, (file.extension ?? '').replace('.', '') || 'file'))
    thumbnail(file, picture, 256).then(() => {
      if (picture.querySelector('img')) picture.querySelector('.kind')?.remove()
    })
    return h(
      'li',
      { class: 'card', dataset: { id: file.id, status: file.status }, draggable: 'true', ondragstart: dragged(file) },
      picture,
      h('div', { class: 'card-name' }, picker(file), nameLink(file)),
      h('div', { class: 'card-meta' }, formatBytes(file.size ?? file.expectedSize), ' · ', file.status),
      whereIs(file),
    )
  }

  /** A column heading that sorts by `key` (`name`, `createdAt`): a click turns the order. */
  function sortable(label, key) {
    const ascending = sort === key
    const descending = sort === `-${key}`
    const unavailable = key === 'name' && !!filters.q && !filters.collection
    return h(
      'th',
      { scope: 'col', 'aria-sort': ascending ? 'ascending' : descending ? 'descending' : null },
      h(
        'button',
        {
          type: 'button',
          class: 'sort',
          disabled: unavailable,
          title: unavailable ? 'A search across folders is ordered by date' : null,
          onclick: () => {
            sort = ascending ? `-${key}` : key === 'name' ? 'name' : descending ? key : `-${key}`
            cursors.splice(0, cursors.length, null)
            drawn = null
            refresh()
          },
        },
        label,
        ascending ? ' ▲' : descending ? ' ▼' : '',
      ),
    )
  }

  function selectAll(items) {
    const all = items.length > 0 && items.every((f) => selected.has(f.id))
    return h('input', {
      type: 'checkbox',
      'aria-label': 'Select every file on this page',
      checked: all,
      onchange: (e) => {
        for (const file of items) {
          if (e.target.checked) selected.set(file.id, file)
          else selected.delete(file.id)
        }
        drawn = null
        refresh()
      },
    })
  }

  /** The table of a page: the live files, or the trash. */
  function table(items) {
    if (trash) return trashView.table(items, rules)
    if (grid) {
      return h('ul', { class: 'grid', 'aria-label': 'Files' }, items.map(card))
    }
    const col = (c) => h('th', { scope: 'col' }, c)
    return h(
      'table',
      { class: 'files' },
      h('caption', {}, filters.q ? 'Files found in this folder and below' : 'Files in this folder'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col', class: 'pick' }, selectAll(items)),
          col(''),
          sortable('Name', 'name'),
          ['Status', 'Size', 'Type', 'Tags'].map(col),
          sortable('Created', 'createdAt'),
          col('Collection'),
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
        const where = folder
        const [page, subfolders] = await Promise.all([
          client.files.page({ ...query(), cursor: cursors.at(-1), limit: 25 }),
          // The folder's subfolders (the trash and a search show files only).
          trash || filters.q ? [] : client.folders.list(where),
        ])
        // Switched meanwhile: the page read is not what is to be shown.
        if (shown !== trash || where !== folder) return
        if (trash && (!rules || page.items.some((f) => !rules.has(f.collection)))) {
          const known = await client.collections.list().catch(() => [])
          rules = new Map(known.map((c) => [c.name, c]))
        }
        const signature = JSON.stringify([
          trash,
          folder,
          sort,
          grid,
          cursors.length,
          page.nextCursor,
          page.items.map((f) => [f.id, f.version]),
          subfolders.map((f) => f.path),
        ])
        if (signature === drawn) return
        drawn = signature
        folders.draw(folder, subfolders)
        folders.element.hidden = trash
        // A file gone from the page leaves the selection.
        for (const id of [...selected.keys()]) if (!page.items.some((f) => f.id === id)) selected.delete(id)
        selection.draw()
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
            ? notice('info', trash ? 'The trash holds no files that match.' : subfolders.length ? 'No files here; open a folder above.' : 'No files match.')
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
      h('div', { class: 'list-head' }, heading, views, layouts),
      form,
      folders.element,
      selection.element,
      messages,
      results,
    ),
    refresh,
    /** The folder shown. */
    folder: () => folder,
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
