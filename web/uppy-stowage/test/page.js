// The smallest page that uploads through Stowage with Uppy: the adapter, @uppy/core and
// @uppy/aws-s3, nothing else. The browser test loads it with `#endpoint=…&token=…` and drives
// the `uppy` instance it leaves on `window`.
import Uppy from '@uppy/core'
import AwsS3 from '@uppy/aws-s3'
import { stowage } from '../index.js'

const params = new URLSearchParams(location.hash.slice(1))
const options = stowage({ endpoint: params.get('endpoint'), token: params.get('token') })
const uppy = new Uppy({ autoProceed: false }).use(AwsS3, options)

// Deterministic bytes the test can regenerate on its side to compare downloads.
function bytes(size, seed) {
  const data = new Uint8Array(size)
  for (let i = 0; i < size; i++) data[i] = ((Math.floor(i / 1013) * 31 + seed) ^ (i % 251)) & 0xff
  return data
}

// What a person would see: each file, its progress and its outcome.
const list = document.querySelector('#files')
function show(file, text) {
  let item = document.getElementById(`file-${file.id}`)
  if (!item) {
    item = document.createElement('li')
    item.id = `file-${file.id}`
    list.append(item)
  }
  item.textContent = `${file.name} (${file.size} bytes): ${text}`
}
uppy.on('file-added', (file) => show(file, 'added'))
uppy.on('upload-progress', (file, progress) =>
  show(file, `${Math.round((100 * progress.bytesUploaded) / progress.bytesTotal)} %`),
)
uppy.on('upload-pause', (file, paused) => show(file, paused ? 'paused' : 'resumed'))
uppy.on('upload-success', (file) => show(file, 'uploaded'))
uppy.on('upload-error', (file, error) => show(file, `failed: ${error.message}`))
uppy.on('file-removed', (file) => show(file, 'cancelled'))

window.uppy = uppy
window.stowageOptions = options
window.addGeneratedFile = (name, type, size, seed, meta = {}) =>
  uppy.addFile({ name, type, data: new File([bytes(size, seed)], name, { type }), meta })
document.querySelector('#status').textContent = 'ready'
