// The bytes of an upload, whatever the app hands over: bytes (`Uint8Array`, `ArrayBuffer`, any
// typed array or `Buffer`), a `Blob` or `File`, a path (Node only), or a stream (a Node
// `Readable`, a web `ReadableStream`, any async iterable of byte chunks). Random-access sources
// give any part when it is sent; a stream gives its parts in order, read only as they are sent,
// so at most `parallel` parts are ever in memory.

/** What `files.upload` takes. */
export type UploadData =
  | Uint8Array
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>

/** A request body the SDK sends to a presigned URL. */
export type PartBody = Uint8Array | Blob

export interface Source {
  /** Total bytes. */
  readonly size: number
  /** A name the data carries (a `File`'s, a path's base name). */
  readonly name: string | undefined
  /** A media type the data carries (a `Blob`'s `type`). */
  readonly type: string | undefined
  /** Whether parts must be read in order (a stream). */
  readonly sequential: boolean
  /** The bytes `[start, end)`; in order and without gaps for a sequential source (skipping is allowed). */
  read(start: number, end: number): Promise<PartBody>
  /** Hands back what `read` gave once it is sent for good: its memory may hold a later part. */
  release?(body: PartBody): void
  close(): Promise<void>
}

/**
 * Opens `data` as a source of `size` bytes. A stream of unknown size (no `size` given) is read
 * into memory first.
 */
export async function openSource(data: UploadData, size?: number): Promise<Source> {
  if (typeof Blob !== 'undefined' && data instanceof Blob) return blobSource(data)
  if (data instanceof ArrayBuffer) return bytesSource(new Uint8Array(data))
  if (ArrayBuffer.isView(data)) return bytesSource(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
  if (typeof data === 'string') return pathSource(data)
  const chunks = chunksOf(data)
  if (chunks) {
    if (size === undefined || size === null) return bytesSource(await readAll(chunks))
    return streamSource(chunks, size)
  }
  throw new TypeError('files.upload: data must be bytes, a Blob, a path, or a stream of bytes')
}

function bytesSource(bytes: Uint8Array): Source {
  return {
    size: bytes.byteLength,
    name: undefined,
    type: undefined,
    sequential: false,
    read: async (start, end) => bytes.subarray(start, end),
    close: async () => {},
  }
}

function blobSource(blob: Blob): Source {
  const name = typeof (blob as File).name === 'string' && (blob as File).name !== '' ? (blob as File).name : undefined
  return {
    size: blob.size,
    name,
    type: blob.type || undefined,
    sequential: false,
    // A slice has no type of its own, so fetch sends no Content-Type the URL does not bind.
    read: async (start, end) => (start === 0 && end === blob.size && !blob.type ? blob : blob.slice(start, end)),
    close: async () => {},
  }
}

/** Node's `fs/promises`, imported only when a path is uploaded (a browser bundle never loads it). */
async function nodeFs(): Promise<NodeFs> {
  const runtime = (globalThis as { process?: { versions?: { node?: string } } }).process
  if (!runtime?.versions?.node) {
    throw new TypeError('files.upload: a path can only be uploaded from Node; pass a Blob or bytes')
  }
  // A computed specifier: bundlers leave it alone, so the browser build has no Node import.
  const specifier = ['node', 'fs/promises'].join(':')
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as NodeFs
}

interface NodeFs {
  stat(path: string): Promise<{ size: number; isFile(): boolean }>
  open(path: string, flags: string): Promise<{
    read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>
    close(): Promise<void>
  }>
}

async function pathSource(path: string): Promise<Source> {
  const fs = await nodeFs()
  const stat = await fs.stat(path)
  if (!stat.isFile()) throw new TypeError(`files.upload: ${path} is not a file`)
  const handle = await fs.open(path, 'r')
  // The parts' memory, reused: a part sent is read into the buffer of one sent before, so an
  // upload holds `parallel` part buffers however large the file (not one per part, left to
  // the garbage collector).
  const free: ArrayBuffer[] = []
  const mine = new WeakSet<ArrayBuffer>()
  return {
    size: stat.size,
    name: path.split(/[\\/]/).pop() || undefined,
    type: typeFromName(path),
    sequential: false,
    async read(start, end) {
      const length = end - start
      const at = free.findIndex((buffer) => buffer.byteLength >= length)
      const buffer = at >= 0 ? free.splice(at, 1)[0]! : new ArrayBuffer(length)
      mine.add(buffer)
      const bytes = new Uint8Array(buffer, 0, length)
      let done = 0
      try {
        while (done < bytes.length) {
          const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done)
          if (bytesRead === 0) throw new Error(`${path} is shorter than ${end} bytes (did it change?)`)
          done += bytesRead
        }
      } catch (err) {
        free.push(buffer)
        throw err
      }
      return bytes
    },
    release(body) {
      if (body instanceof Uint8Array && mine.has(body.buffer as ArrayBuffer) && !free.includes(body.buffer as ArrayBuffer)) free.push(body.buffer as ArrayBuffer)
    },
    close: () => handle.close(),
  }
}

function chunksOf(data: unknown): AsyncIterator<Uint8Array> | null {
  if (data && typeof (data as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    return (data as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  }
  if (data && typeof (data as ReadableStream<Uint8Array>).getReader === 'function') {
    const reader = (data as ReadableStream<Uint8Array>).getReader()
    return {
      next: async () => {
        const { done, value } = await reader.read()
        return done ? { done: true, value: undefined } : { done: false, value }
      },
      return: async () => {
        await reader.cancel().catch(() => {})
        return { done: true, value: undefined }
      },
    }
  }
  return null
}

/** Bytes, a typed array or view, an `ArrayBuffer` or a string as bytes; anything else `undefined`. */
export function toBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  if (typeof value === 'string') return new TextEncoder().encode(value)
  return undefined
}

function asBytes(chunk: unknown): Uint8Array {
  const bytes = toBytes(chunk)
  if (!bytes) throw new TypeError('files.upload: a stream must yield bytes')
  return bytes
}

async function readAll(chunks: AsyncIterator<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await chunks.next()
    if (done) break
    const bytes = asBytes(value)
    parts.push(bytes)
    total += bytes.byteLength
  }
  return concat(parts, total)
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0]!.byteLength === total) return parts[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.byteLength
  }
  return out
}

function streamSource(chunks: AsyncIterator<Uint8Array>, size: number): Source {
  let position = 0
  let pending: Uint8Array = new Uint8Array(0)
  let lock: Promise<unknown> = Promise.resolve()

  /** The next `length` bytes of the stream (fewer only at its end). */
  async function take(length: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = []
    let total = 0
    while (total < length) {
      if (pending.byteLength === 0) {
        const { done, value } = await chunks.next()
        if (done) break
        pending = asBytes(value)
        continue
      }
      const piece = pending.subarray(0, length - total)
      pending = pending.subarray(piece.byteLength)
      parts.push(piece)
      total += piece.byteLength
    }
    position += total
    return concat(parts, total)
  }

  return {
    size,
    name: undefined,
    type: undefined,
    sequential: true,
    read(start, end) {
      // Callers ask in order; the lock keeps two parallel reads from interleaving.
      const result = lock.then(async () => {
        if (start < position) throw new Error('a stream cannot be read backwards')
        if (start > position) await take(start - position)
        const bytes = await take(end - start)
        if (bytes.byteLength !== end - start) {
          throw new Error(`the stream ended at ${position} bytes, before the ${size} declared`)
        }
        return bytes
      })
      lock = result.catch(() => {})
      return result
    },
    close: async () => {
      await chunks.return?.()
    },
  }
}

const TYPES: Record<string, string> = {
  txt: 'text/plain',
  md: 'text/markdown',
  csv: 'text/csv',
  html: 'text/html',
  json: 'application/json',
  pdf: 'application/pdf',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  mp4: 'video/mp4',
  mp3: 'audio/mpeg',
}

/** A media type guessed from a file name's extension (a few common ones), or `undefined`. */
export function typeFromName(name: string): string | undefined {
  const extension = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase()
  return extension ? TYPES[extension] : undefined
}
