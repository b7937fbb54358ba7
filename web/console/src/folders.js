// Folders in the console: where the list is (breadcrumbs), the subfolders there (each opens on
// a click and takes files and folders dropped on it), and "New folder". A file's `directory`
// places it; a folder shows while it holds a file the person may read, or was made here.

import { ask, h, show } from './dom.js'

/** The drag data of files (their ids) and of a folder (its path). */
export const FILES_TYPE = 'application/x-stowage-files'
export const FOLDER_TYPE = 'application/x-stowage-folder'

/** The last segment of a path (`/` for the top). */
export const nameOf = (path) => (path === '/' ? '/' : path.slice(path.lastIndexOf('/') + 1))
/** `/a/b` + `c` → `/a/b/c`. */
export const join = (parent, name) => (parent === '/' ? `/${name}` : `${parent}/${name}`)

/**
 * The folder bar. `open(path)` shows a folder; `moveFiles(ids, path)` and
 * `moveFolder(from, to)` act on what is dropped; `say(kind, text)` reports.
 * @returns {{ element: HTMLElement, draw: (folder: string, subfolders: {path: string, name: string}[]) => void }}
 */
export function folderBar(client, { open, moveFiles, moveFolder, say }) {
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'Folder' })
  const list = h('ul', { class: 'folders', 'aria-label': 'Folders' })
  let current = '/'

  /** Makes `element` a drop target for files and folders, into `path`. */
  function dropInto(element, path) {
    element.addEventListener('dragover', (e) => {
      const types = [...e.dataTransfer.types]
      if (!types.includes(FILES_TYPE) && !types.includes(FOLDER_TYPE)) return
      e.preventDefault()
      e.dataTransfer.dropEffect = 'move'
      element.classList.add('drop-here')
    })
    element.addEventListener('dragleave', () => element.classList.remove('drop-here'))
    element.addEventListener('drop', (e) => {
      e.preventDefault()
      element.classList.remove('drop-here')
      const files = e.dataTransfer.getData(FILES_TYPE)
      const folder = e.dataTransfer.getData(FOLDER_TYPE)
      if (files) moveFiles(JSON.parse(files), path)
      else if (folder && folder !== path) moveFolder(folder, join(path, nameOf(folder)))
    })
  }

  function crumb(path, label) {
    const link = h(
      'a',
      {
        href: '#/',
        'aria-current': path === current ? 'location' : null,
        onclick: (e) => {
          e.preventDefault()
          open(path)
        },
      },
      label,
    )
    dropInto(link, path)
    return link
  }

  function folderItem(folder) {
    const button = h(
      'button',
      {
        type: 'button',
        class: 'folder',
        draggable: 'true',
        dataset: { path: folder.path },
        'aria-label': `Open folder ${folder.name}`,
        onclick: () => open(folder.path),
        ondragstart: (e) => {
          e.dataTransfer.setData(FOLDER_TYPE, folder.path)
          e.dataTransfer.effectAllowed = 'move'
        },
      },
      h('span', { class: 'folder-icon', 'aria-hidden': 'true' }),
      folder.name,
    )
    dropInto(button, folder.path)
    return h('li', {}, button)
  }

  async function newFolder() {
    const name = await ask('New folder', `Name (in ${current})`, '', 'Create')
    if (!name) return
    if (name.includes('/') || name === '.' || name === '..') {
      say('error', 'A folder name holds no "/" and is not "." or "..".')
      return
    }
    try {
      await client.folders.create(join(current, name))
      say('info', `Folder ${name} was created.`)
    } catch (err) {
      say('error', err.message)
    }
    open(current)
  }

  const element = h(
    'div',
    { class: 'folder-bar' },
    h('div', { class: 'crumbs-row' }, crumbs, h('button', { type: 'button', onclick: newFolder }, 'New folder')),
    list,
  )

  return {
    element,
    draw(folder, subfolders) {
      current = folder
      const parts = folder === '/' ? [] : folder.slice(1).split('/')
      const trail = [crumb('/', 'All files')]
      parts.forEach((part, at) => {
        trail.push(h('span', { class: 'sep', 'aria-hidden': 'true' }, '/'))
        trail.push(crumb(`/${parts.slice(0, at + 1).join('/')}`, part))
      })
      show(crumbs, trail)
      show(list, subfolders.map(folderItem))
      list.hidden = subfolders.length === 0
    },
  }
}
