/**
 * Stowage for Uppy 6: the options object for `@uppy/aws-s3` 6.x (`signRequest` mode) that turns
 * every file added to Uppy into a Stowage file record, uploaded straight to S3.
 *
 * ```js
 * import Uppy from '@uppy/core'
 * import AwsS3 from '@uppy/aws-s3'
 * import { stowage } from './uppy-stowage/index.js'
 *
 * const options = stowage({ endpoint: 'http://127.0.0.1:4600', token })
 * new Uppy().use(AwsS3, options)
 * ```
 *
 * How it works. Uppy asks `generateObjectKey(file)` for a key when a file's upload starts; the
 * adapter answers with a handle for that file. The first S3 request Uppy wants signed for the
 * handle (PutObject, or CreateMultipartUpload above Stowage's multipart threshold) creates the
 * Stowage record (`POST /files`, with the file's name, type, size and meta) and is signed by
 * `POST /files/{id}/upload/sign`, whose answer names the object key Stowage chose; Uppy uses that
 * key from then on, and the adapter maps it back to the record for every later request
 * (UploadPart, ListParts on resume, CompleteMultipartUpload, AbortMultipartUpload on cancel).
 * The server signs only requests of the caller's own open upload. The record becomes
 * `uploaded` when S3 reports the object, as with every Stowage upload.
 *
 * The multipart threshold and part size are the server's: the adapter reads them from
 * `GET /files/limits` when it is created (`options.ready` settles when they have arrived).
 *
 * Uppy file meta becomes record fields: `name` and `type` always; `tags` (an array, or a
 * comma-separated string), `purpose`, `directory`, `collection`, `metadata` (an object), and
 * `temp` with `ttlSeconds` when set.
 *
 * Every call of the API goes through `@stowage/client` (clients/typescript): its token handling,
 * its retries of `429` and `503`, its `StowageError`. Pass `client` to share one `Stowage` with
 * the rest of a page (the console does).
 *
 * @module uppy-stowage
 */

import { Stowage, StowageError } from '@stowage/client'

export { Stowage, StowageError }

/** The prefix of the keys the adapter hands Uppy before a record exists. */
const HANDLE = 'stowage-upload:'

/**
 * @typedef {object} StowageOptions
 * @property {string} [endpoint] Where the Stowage API is (`http://127.0.0.1:4600`, or the stack's
 *   `ApiUrl`); not needed with `client`.
 * @property {string | (() => string | Promise<string>)} [token] The bearer token, or a function
 *   (possibly async) that returns a fresh one for each call; not needed with `client`.
 * @property {Stowage} [client] A `Stowage` client to call the API with (instead of `endpoint` and `token`).
 * @property {(file: object, record: object) => void} [onFileCreated] Called with the Uppy file
 *   and the Stowage record (`POST /files`'s `file`) when the record is created.
 * @property {typeof fetch} [fetch] The `fetch` to call the API with (default: the global one).
 */

/** The client an adapter or a subscription calls the API with. */
function clientOf({ client, endpoint, token, fetch: fetchImpl, WebSocket }, what) {
  if (client) return client
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw new TypeError(`${what}: \`endpoint\` is required (e.g. "http://127.0.0.1:4600")`)
  }
  if (typeof token !== 'string' && typeof token !== 'function') {
    throw new TypeError(`${what}: \`token\` must be a string or a function returning one`)
  }
  return new Stowage({ endpoint, token, ...(fetchImpl ? { fetch: fetchImpl } : {}), ...(WebSocket ? { WebSocket } : {}) })
}

/**
 * The options for `uppy.use(AwsS3, …)`.
 *
 * @param {StowageOptions} options
 * @returns {object} `@uppy/aws-s3` options, plus `ready` (a promise of the server's upload
 *   limits) and `recordOf(uppyFileId)` (a promise of the Stowage record of an Uppy file, once
 *   its upload has started).
 */
export function stowage(options = {}) {
  const api = clientOf(options, 'stowage')
  const { onFileCreated } = options
  /** Uppy file id → { file, record: Promise<record> } */
  const uploads = new Map()
  /** object key → record id */
  const recordIdOfKey = new Map()
  let limits = null

  const ready = api.uploads.limits().then((answer) => {
    limits = answer
    return answer
  })
  // An unobserved failure here would be reported as unhandled; uploads report it instead.
  ready.catch(() => {})

  function partSize(size) {
    return Math.max(limits.defaultPartSize, Math.ceil(size / limits.maxParts), limits.minPartSize)
  }

  function recordFields(file, multipart) {
    const meta = file.meta ?? {}
    const body = {
      name: meta.name ?? file.name,
      mimeType: file.type || 'application/octet-stream',
      size: file.size,
      multipart,
    }
    if (multipart) body.partSize = partSize(file.size)
    const tags = typeof meta.tags === 'string' ? meta.tags.split(',') : meta.tags
    if (Array.isArray(tags)) {
      const cleaned = tags.map((t) => String(t).trim()).filter(Boolean)
      if (cleaned.length > 0) body.tags = cleaned
    }
    for (const field of ['purpose', 'directory', 'collection']) {
      if (typeof meta[field] === 'string' && meta[field].trim() !== '') body[field] = meta[field].trim()
    }
    if (meta.metadata && typeof meta.metadata === 'object') body.metadata = meta.metadata
    if (meta.temp === true || meta.temp === 'true') {
      body.kind = 'temp'
      const ttl = Number(meta.ttlSeconds)
      if (Number.isInteger(ttl) && ttl > 0) body.ttlSeconds = ttl
    }
    return body
  }

  function createRecord(upload, multipart) {
    if (!upload.record) {
      upload.record = api.files.create(recordFields(upload.file, multipart)).then((created) => {
        onFileCreated?.(upload.file, created.file)
        return created.file
      })
      // A failed create may be retried by Uppy's retry (which asks for a new handle).
      upload.record.catch(() => {
        upload.record = undefined
      })
    }
    return upload.record
  }

  return {
    ready,

    recordOf(uppyFileId) {
      const upload = uploads.get(uppyFileId)
      return upload?.record ?? Promise.reject(new Error('stowage: that file has not started uploading'))
    },

    shouldUseMultipart(file) {
      // Before the limits arrive (an upload started at once), a single PUT is tried; if the
      // server plans a multipart upload for the file, signing fails and Uppy's retry, made
      // after the limits have arrived, plans it the same way.
      return limits != null && (file.size ?? 0) > limits.multipartThreshold
    },

    getChunkSize(file) {
      return limits == null ? 5 * 1024 * 1024 : partSize(file.size)
    },

    generateObjectKey(file) {
      const known = uploads.get(file.id)
      uploads.set(file.id, { file, record: known?.record })
      return HANDLE + file.id
    },

    async signRequest(request) {
      const { method, key, uploadId, partNumber, expiresIn, contentType } = request
      let recordId
      if (key.startsWith(HANDLE)) {
        // The first request of an upload: its record is created now (once per file).
        const upload = uploads.get(key.slice(HANDLE.length))
        if (!upload) throw new Error(`stowage: no file for ${key}`)
        recordId = (await createRecord(upload, method === 'POST')).id
      } else {
        recordId = recordIdOfKey.get(key)
        if (!recordId) throw new Error(`stowage: no Stowage file has the key ${key}`)
      }
      const body = { method }
      if (!key.startsWith(HANDLE)) body.key = key
      if (uploadId) body.uploadId = uploadId
      if (partNumber) body.partNumber = partNumber
      if (method === 'PUT' && !uploadId && contentType) body.contentType = contentType
      if (expiresIn) body.expiresIn = expiresIn
      const signed = await api.uploads.sign(recordId, body)
      recordIdOfKey.set(signed.key, recordId)
      return { url: signed.url, headers: signed.headers, key: signed.key }
    },
  }
}

/**
 * @typedef {object} SubscribeOptions
 * @property {string} [endpoint] Where the Stowage API is (not needed with `client`).
 * @property {string | (() => string | Promise<string>)} [token] The bearer token, or a function
 *   returning a fresh one (called for each connection).
 * @property {Stowage} [client] A `Stowage` client to subscribe with (instead of `endpoint` and `token`).
 * @property {(event: object) => void} onEvent Called with each file event (its `Detail`
 *   plus `type`), once per `eventId` however many channels carry it.
 * @property {(state: 'connecting' | 'live' | 'disconnected' | 'unavailable', detail?: object) => void} [onState]
 *   Told how the connection stands: `live` once subscribed (with `{ resumed: true }` after a
 *   reconnect: read what changed meanwhile), `unavailable` when the deployment has no realtime
 *   endpoint (`404 realtime_unavailable`; nothing more is tried).
 * @property {typeof fetch} [fetch]
 * @property {typeof WebSocket} [WebSocket] The WebSocket class (default: the global one).
 */

/**
 * Subscribes to the changes of every file this identity may read: `@stowage/client`'s
 * `subscribe` (`GET /realtime`, AppSync Events' WebSocket protocol, reconnect with backoff and
 * resubscribe, repeats dropped by `eventId`), kept here for pages that import it from the adapter.
 *
 * @param {SubscribeOptions} options
 * @returns {{ close: () => void }}
 */
export function subscribe(options = {}) {
  const { onEvent, onState } = options
  if (typeof onEvent !== 'function') throw new TypeError('subscribe: `onEvent` is required')
  return clientOf(options, 'subscribe').subscribe(onEvent, onState ? { onState } : {})
}

export default stowage
