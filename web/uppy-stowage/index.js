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
 * @module uppy-stowage
 */

/** The prefix of the keys the adapter hands Uppy before a record exists. */
const HANDLE = 'stowage-upload:'

/** An answer of the Stowage API that is not a success, with its problem document. */
export class StowageError extends Error {
  /**
   * @param {number} status
   * @param {{code?: string, detail?: string, errors?: {field: string, message: string}[]} | null} problem
   * @param {string} what
   */
  constructor(status, problem, what) {
    const detail = problem?.detail ?? `HTTP ${status}`
    super(`${what}: ${detail}`)
    this.name = 'StowageError'
    this.status = status
    this.code = problem?.code
    this.problem = problem
  }
}

/**
 * @typedef {object} StowageOptions
 * @property {string} endpoint Where the Stowage API is (`http://127.0.0.1:4600`, or the stack's
 *   `ApiUrl`).
 * @property {string | (() => string | Promise<string>)} token The bearer token, or a function
 *   (possibly async) that returns a fresh one for each call.
 * @property {(file: object, record: object) => void} [onFileCreated] Called with the Uppy file
 *   and the Stowage record (`POST /files`'s `file`) when the record is created.
 * @property {typeof fetch} [fetch] The `fetch` to call the API with (default: the global one).
 */

/**
 * The options for `uppy.use(AwsS3, …)`.
 *
 * @param {StowageOptions} options
 * @returns {object} `@uppy/aws-s3` options, plus `ready` (a promise of the server's upload
 *   limits) and `recordOf(uppyFileId)` (a promise of the Stowage record of an Uppy file, once
 *   its upload has started).
 */
export function stowage({ endpoint, token, onFileCreated, fetch: fetchImpl } = {}) {
  if (typeof endpoint !== 'string' || endpoint === '') {
    throw new TypeError('stowage: `endpoint` is required (e.g. "http://127.0.0.1:4600")')
  }
  if (typeof token !== 'string' && typeof token !== 'function') {
    throw new TypeError('stowage: `token` must be a string or a function returning one')
  }
  const base = endpoint.replace(/\/+$/, '')
  const send = fetchImpl ?? globalThis.fetch.bind(globalThis)
  /** Uppy file id → { file, record: Promise<record> } */
  const uploads = new Map()
  /** object key → record id */
  const recordIdOfKey = new Map()
  let limits = null

  async function call(method, path, body) {
    const bearer = typeof token === 'function' ? await token() : token
    const headers = { authorization: `Bearer ${bearer}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await send(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await response.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      json = null
    }
    if (!response.ok) throw new StowageError(response.status, json, `${method} ${path}`)
    return json
  }

  const ready = call('GET', '/files/limits').then((answer) => {
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
      upload.record = call('POST', '/files', recordFields(upload.file, multipart)).then(
        (created) => {
          onFileCreated?.(upload.file, created.file)
          return created.file
        },
      )
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
      const signed = await call('POST', `/files/${recordId}/upload/sign`, body)
      recordIdOfKey.set(signed.key, recordId)
      return { url: signed.url, headers: signed.headers, key: signed.key }
    },
  }
}

/**
 * @typedef {object} SubscribeOptions
 * @property {string} endpoint Where the Stowage API is.
 * @property {string | (() => string | Promise<string>)} token The bearer token, or a function
 *   returning a fresh one (called for each connection).
 * @property {(event: object) => void} onEvent Called with each file event (the `Detail` of
 *   SPEC 15 plus `type`), once per `eventId` however many channels carry it.
 * @property {(state: 'connecting' | 'live' | 'disconnected' | 'unavailable', detail?: object) => void} [onState]
 *   Told how the connection stands: `live` once subscribed (with `{ resumed: true }` after a
 *   reconnect: read what changed meanwhile), `unavailable` when the deployment has no realtime
 *   endpoint (`404 realtime_unavailable`; nothing more is tried).
 * @property {typeof fetch} [fetch]
 * @property {typeof WebSocket} [WebSocket] The WebSocket class (default: the global one).
 */

/** Most event ids remembered to drop repeats (one event on two channels, redeliveries). */
const SEEN_EVENTS = 1000

function base64url(text) {
  const bytes = new TextEncoder().encode(text)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * Subscribes to the changes of every file this identity may read (SPEC 20): asks
 * `GET /realtime` where to connect and which channels are its own, speaks AppSync Events'
 * WebSocket protocol there (a deployed stack's AppSync API, or `stowage-local`'s
 * `/event/realtime`), and reconnects with backoff (0.5 s doubling to 30 s, with jitter),
 * resubscribing each time.
 *
 * @param {SubscribeOptions} options
 * @returns {{ close: () => void }}
 */
export function subscribe({ endpoint, token, onEvent, onState = () => {}, fetch: fetchImpl, WebSocket: Socket } = {}) {
  if (typeof endpoint !== 'string' || endpoint === '') throw new TypeError('subscribe: `endpoint` is required')
  if (typeof onEvent !== 'function') throw new TypeError('subscribe: `onEvent` is required')
  const base = endpoint.replace(/\/+$/, '')
  const call = fetchImpl ?? globalThis.fetch.bind(globalThis)
  const WS = Socket ?? globalThis.WebSocket
  const seen = []
  let socket = null
  let timer = null
  let closed = false
  let attempt = 0
  let wasLive = false

  const bearer = async () => {
    const value = typeof token === 'function' ? await token() : token
    return String(value ?? '').replace(/^Bearer\s+/i, '')
  }

  function retry() {
    if (closed) return
    onState('disconnected')
    const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2)
    attempt += 1
    timer = setTimeout(connect, delay)
  }

  async function connect() {
    if (closed) return
    onState('connecting')
    let info
    let auth
    try {
      auth = await bearer()
      const response = await call(`${base}/realtime`, { headers: { authorization: `Bearer ${auth}` } })
      const body = await response.json().catch(() => null)
      if (response.status === 404 && body?.code === 'realtime_unavailable') {
        onState('unavailable', body)
        return
      }
      if (!response.ok) throw new StowageError(response.status, body, 'GET /realtime')
      info = body
    } catch {
      retry()
      return
    }
    const header = base64url(JSON.stringify({ host: info.host, Authorization: auth }))
    const ws = new WS(info.url, ['aws-appsync-event-ws', `header-${header}`])
    socket = ws
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }))
    ws.onmessage = (message) => {
      let msg
      try {
        msg = JSON.parse(message.data)
      } catch {
        return
      }
      if (msg.type === 'connection_ack') {
        info.channels.forEach((channel, i) =>
          ws.send(JSON.stringify({ type: 'subscribe', id: `stowage-${i}`, channel, authorization: { host: info.host, Authorization: auth } })),
        )
      } else if (msg.type === 'subscribe_success' && msg.id === `stowage-${info.channels.length - 1}`) {
        attempt = 0
        onState('live', { resumed: wasLive })
        wasLive = true
      } else if (msg.type === 'data') {
        let event
        try {
          event = JSON.parse(msg.event)
        } catch {
          return
        }
        if (seen.includes(event.eventId)) return
        seen.push(event.eventId)
        if (seen.length > SEEN_EVENTS) seen.shift()
        onEvent(event)
      }
    }
    ws.onclose = () => {
      if (socket === ws) retry()
    }
  }

  connect()
  return {
    close() {
      closed = true
      clearTimeout(timer)
      socket?.close()
    },
  }
}

export default stowage
