// Uploading: Uppy's Dashboard (drag and drop, progress, pause/resume, cancel) through the
// Stowage adapter (web/uppy-stowage), with optional tags, purpose, and temp + TTL applied to the
// files added while they are set.

import Uppy from '@uppy/core'
import AwsS3 from '@uppy/aws-s3'
import Dashboard from '@uppy/dashboard'
import { stowage } from 'uppy-stowage'
import { field, h } from './dom.js'

/** Default lifetime offered for temp files: one day. */
const DEFAULT_TTL_SECONDS = 86_400

/**
 * The upload panel. `onChange()` is called when a file's record is created or its upload ends,
 * so the list can show it at once.
 * @returns {{ element: HTMLElement, mount: () => void, uppy: Uppy, close: () => void }}
 */
export function uploadPanel(client, { onChange }) {
  const uppy = new Uppy({ id: 'stowage-console', autoProceed: false })
  uppy.use(
    AwsS3,
    stowage({
      client,
      onFileCreated: () => onChange(),
    }),
  )
  uppy.on('upload-success', () => onChange())
  uppy.on('upload-error', () => onChange())

  let collection = ''
  let directory = '/'
  const destination = h('p', { class: 'destination' })
  const form = h(
    'form',
    { class: 'upload-meta', 'aria-label': 'Fields for the files you add' },
    destination,
    field('Tags (comma-separated)', h('input', { name: 'tags', autocomplete: 'off' })),
    field('Purpose', h('input', { name: 'purpose', autocomplete: 'off' })),
    h(
      'label',
      { class: 'check' },
      h('input', { name: 'temp', type: 'checkbox' }),
      h('span', {}, 'Temp file, deleted after'),
    ),
    h(
      'div',
      { class: 'ttl' },
      field('TTL (seconds)', h('input', { name: 'ttlSeconds', type: 'number', min: 1, step: 1, value: DEFAULT_TTL_SECONDS, disabled: true })),
    ),
  )
  // What the form says applies to every file not yet on its way (Uppy's shared meta).
  const applyMeta = () => {
    const temp = form.elements.temp.checked
    form.elements.ttlSeconds.disabled = !temp
    destination.textContent =
      directory === '/'
        ? `Files you add go to the collection ${collection || 'default'}.`
        : `Files you add go to the collection ${collection || 'default'}, in ${directory}.`
    uppy.setMeta({
      collection,
      directory: directory === '/' ? '' : directory,
      tags: form.elements.tags.value,
      purpose: form.elements.purpose.value,
      temp,
      ttlSeconds: temp ? form.elements.ttlSeconds.value : '',
    })
  }
  form.addEventListener('input', applyMeta)
  form.addEventListener('submit', (e) => e.preventDefault())
  applyMeta()

  const target = h('div', { class: 'dashboard', id: 'uploader' })
  const element = h(
    'section',
    { 'aria-labelledby': 'upload-heading', class: 'upload' },
    h('h2', { id: 'upload-heading' }, 'Upload'),
    form,
    target,
  )

  return {
    element,
    uppy,
    /** Draws the Dashboard; call once `element` is in the document. */
    mount() {
      uppy.use(Dashboard, {
        inline: true,
        target,
        height: 320,
        width: '100%',
        proudlyDisplayPoweredByUppy: false,
        showProgressDetails: true,
        hideProgressAfterFinish: false,
        note: 'Files go straight to storage; large ones in parts you can pause and resume.',
        theme: 'auto',
      })
    },
    /** Files added from now on go to this folder (`/`: the top). */
    setDirectory(path) {
      directory = path
      applyMeta()
    },
    /** Files added from now on go to this collection (`''`: `default`). */
    setCollection(name) {
      collection = name
      applyMeta()
    },
    close: () => uppy.destroy(),
  }
}
