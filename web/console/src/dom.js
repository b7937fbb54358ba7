// The console's DOM helpers: one way to build elements, so views read as what they show.

/**
 * An element: `h('button', { type: 'button', onclick }, 'Save')`. Attributes named `on…` are
 * event listeners; `null`, `undefined` and `false` children and attributes are left out.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value)
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value)
    } else if (value === true) {
      element.setAttribute(name, '')
    } else {
      element.setAttribute(name, String(value))
    }
  }
  element.append(...children.flat(Infinity).filter((c) => c != null && c !== false))
  return element
}

let fields = 0

/**
 * A labelled form control: `<div class="field"><label for=…>text</label>control</div>` (an
 * explicit `for`, so a select's options never become part of its name).
 */
export function field(text, control) {
  if (!control.id) control.id = `field-${++fields}`
  return h('div', { class: 'field' }, h('label', { for: control.id }, text), control)
}

/** Replaces the children of `parent`. */
export function show(parent, ...children) {
  parent.replaceChildren(...children.flat(Infinity).filter((c) => c != null && c !== false))
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes) {
  if (bytes == null) return '—'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** An RFC 3339 time in the reader's locale. */
export function formatTime(text) {
  return text ? new Date(text).toLocaleString() : '—'
}

let dialogs = 0

/**
 * Asks before something that cannot be undone: a modal dialog with `title`, `text`, Cancel
 * (focused) and `action`. Resolves `true` when `action` is chosen, `false` on Cancel or Escape.
 */
export function confirmation(title, text, action) {
  const id = `dialog-${++dialogs}`
  const dialog = h(
    'dialog',
    { 'aria-labelledby': id },
    h('h3', { id }, title),
    h('p', {}, text),
    h(
      'form',
      { method: 'dialog' },
      h('button', { value: 'cancel', autofocus: true }, 'Cancel'),
      h('button', { value: 'confirm', class: 'danger' }, action),
    ),
  )
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(dialog.returnValue === 'confirm')
    })
    document.body.append(dialog)
    dialog.showModal()
  })
}

/** A message area that announces what it says to screen readers. */
export function notice(kind, text) {
  return h('p', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text)
}

/**
 * Asks for one line of text: a modal dialog with `title`, a labelled input holding `value`,
 * Cancel and `action`. Resolves with the text (trimmed) when `action` is chosen, `null` on
 * Cancel or Escape.
 */
export function ask(title, label, value, action) {
  const id = `dialog-${++dialogs}`
  const input = h('input', { name: 'answer', value, autocomplete: 'off', spellcheck: 'false', required: true })
  const dialog = h(
    'dialog',
    { 'aria-labelledby': id },
    h('h3', { id }, title),
    h(
      'form',
      { method: 'dialog' },
      field(label, input),
      h('button', { value: 'cancel', formnovalidate: true }, 'Cancel'),
      h('button', { value: 'confirm', class: 'primary' }, action),
    ),
  )
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(dialog.returnValue === 'confirm' ? input.value.trim() : null)
    })
    document.body.append(dialog)
    dialog.showModal()
    input.select()
  })
}

/** A dialog that shows `content` with a Close button; resolves when it is closed. */
export function showDialog(title, content) {
  const id = `dialog-${++dialogs}`
  const dialog = h(
    'dialog',
    { 'aria-labelledby': id, class: 'wide' },
    h('h3', { id }, title),
    content,
    h('form', { method: 'dialog' }, h('button', { value: 'close', autofocus: true }, 'Close')),
  )
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve()
    })
    document.body.append(dialog)
    dialog.showModal()
  })
}
