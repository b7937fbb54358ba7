// The Stowage client: one object per endpoint and token, with the API's resources as
// properties (`files`, `collections`, `uploads`) and the tenant-wide calls as methods
// (`usage`, `setLimits`, `subscribe`).

import { StowageError } from './errors.js'
import { Http, type CallOptions, type Query, type RetryOptions, type TokenSource } from './http.js'
import { subscribe, type SubscribeOptions, type Subscription, type WebSocketConstructor } from './realtime.js'
import type { UploadData } from './source.js'
import { reupload, upload, waitUploaded, type UploadFields, type UploadOptions } from './upload.js'
import type {
  Collection,
  CollectionCreate,
  CollectionPatch,
  DeleteResult,
  FileBatchPatch,
  FileCopy,
  FileCreate,
  FileEvent,
  FileFilter,
  FilePage,
  FilePatch,
  FileRecord,
  FileReplace,
  FileVersion,
  Folder,
  FolderMoveResult,
  FileWithUpload,
  GetManyResult,
  Grant,
  LimitsRequest,
  LinksQuery,
  LinksResult,
  ListFilters,
  ListQuery,
  RealtimeInfo,
  SignedParts,
  SignedRequest,
  SignRequest,
  StoredPart,
  UploadLimits,
  UploadRequest,
  Usage,
} from './types.js'

export interface StowageOptions {
  /** Where the API is: `http://127.0.0.1:4600` (stowage-local) or the stack's `ApiUrl`. */
  endpoint: string
  /** The bearer token, or a function (possibly async) returning a fresh one for each call. */
  token: TokenSource
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch
  /** The WebSocket class for `subscribe` (default: the global one; Node 20 has none: pass `ws`'s). */
  WebSocket?: WebSocketConstructor
  /** How `429` and `503` answers are retried. */
  retry?: RetryOptions
}

/** Options every call takes. */
export interface Signal {
  signal?: AbortSignal
}

/** A conditional write: `ifMatch` is the version the change was made against. */
export interface Conditional extends Signal {
  ifMatch?: number | string
}

/** A delete: `permanent` skips the trash (and deletes a file already in it). */
export interface DeleteOptions extends Signal {
  permanent?: boolean
}

/** A thumbnail: the image, not made yet, or none for this file. */
export type Thumbnail =
  | { status: 'ready'; blob: Blob }
  | { status: 'pending'; retryAfter: number }
  | { status: 'none' }

/** Whether this runtime is a page (fetch follows redirects there; a manual one is opaque). */
const inPage = typeof document !== 'undefined'

export class Stowage {
  /** The API's base URL, without a trailing slash. */
  readonly endpoint: string
  readonly files: Files
  readonly collections: Collections
  readonly folders: Folders
  readonly uploads: Uploads
  readonly #http: Http
  readonly #WebSocket: WebSocketConstructor | undefined

  constructor(options: StowageOptions) {
    if (!options || typeof options.endpoint !== 'string' || options.endpoint === '') {
      throw new TypeError('new Stowage: `endpoint` is required (e.g. "http://127.0.0.1:4600")')
    }
    if (typeof options.token !== 'string' && typeof options.token !== 'function') {
      throw new TypeError('new Stowage: `token` must be a string or a function returning one')
    }
    this.#http = new Http(options.endpoint, options.token, options.fetch, options.retry)
    this.#WebSocket = options.WebSocket
    this.endpoint = this.#http.endpoint
    this.uploads = new Uploads(this.#http)
    this.files = new Files(this.#http, this.uploads)
    this.collections = new Collections(this.#http)
    this.folders = new Folders(this.#http)
  }

  /** Any call of the API, with the token, retries and errors of every other: resolves with its JSON. */
  request<T = unknown>(method: string, path: string, options?: CallOptions): Promise<T> {
    return this.#http.call<T>(method, path, options)
  }

  /** `GET /usage`: bytes and files stored, by collection, and the tenant's limits. */
  usage(options: Signal = {}): Promise<Usage> {
    return this.#http.call('GET', '/usage', options)
  }

  /** `PUT /usage/limits` (`files:admin`): `0` is no limit, a limit left out the deployment's default. */
  setLimits(limits: LimitsRequest, options: Signal = {}): Promise<Usage> {
    return this.#http.call('PUT', '/usage/limits', { ...options, body: limits })
  }

  /** `GET /realtime`: where to subscribe and this identity's channels. */
  realtime(options: Signal = {}): Promise<RealtimeInfo> {
    return this.#http.call('GET', '/realtime', options)
  }

  /**
   * Calls `onEvent` with each event of every file this identity may read, as it happens, once
   * per `eventId`; reconnects and resubscribes until `close()` (or `signal`).
   */
  subscribe(onEvent: (event: FileEvent) => void, options?: SubscribeOptions): Subscription {
    return subscribe(this.#http, this.#WebSocket, onEvent, options)
  }
}

/** File records, their bytes, versions and grants, and the trash. */
export class Files {
  readonly #http: Http
  readonly #uploads: Uploads

  constructor(http: Http, uploads: Uploads) {
    this.#http = http
    this.#uploads = uploads
  }

  /**
   * Uploads `data` (bytes, a Blob or File, a path in Node, or a stream) as a new file, and
   * resolves with its record once `uploaded` (unless `wait: false`): one `PUT` up to the
   * server's multipart threshold, parts in parallel above it. See `UploadOptions` for progress,
   * abort and resume.
   */
  upload(data: UploadData, fields: UploadFields = {}, options: UploadOptions = {}): Promise<FileRecord> {
    return upload(this.#context(), data, fields, options)
  }

  /** New bytes for an existing file (`POST /files/{id}/upload`); the old ones stay readable until these land. */
  reupload(id: string, data: UploadData, options: UploadOptions & { ifMatch?: number | string; size?: number } = {}): Promise<FileRecord> {
    return reupload(this.#context(), id, data, options)
  }

  /** `POST /files`: the record and its upload instructions, without sending any byte. */
  create(fields: FileCreate, options: Signal = {}): Promise<FileWithUpload> {
    return this.#http.call('POST', '/files', { ...options, body: fields })
  }

  /** `GET /files/{id}` (`trashed: true` reads it from the trash, where only it is then found). */
  get(id: string, options: Signal & { trashed?: boolean } = {}): Promise<FileRecord> {
    const { trashed, ...rest } = options
    return this.#http.call('GET', `/files/${encodeURIComponent(id)}`, trashed ? { ...rest, query: { trashed } } : rest)
  }

  /**
   * `POST /files/get`: the records of up to 100 ids in one call, in the order asked (a repeated
   * id once); ids unknown, expired, in the trash or not readable are in `notFound`, alike.
   */
  getMany(ids: string[], options: Signal = {}): Promise<GetManyResult> {
    return this.#http.call('POST', '/files/get', { ...options, body: { ids } })
  }

  /** One page of `GET /files` (`limit`, `cursor` from the previous page's `nextCursor`). */
  page(query: ListQuery = {}, options: Signal = {}): Promise<FilePage> {
    return this.#http.call('GET', '/files', { ...options, query: query as Query })
  }

  /**
   * Every record that matches `filters`, newest first, over every page
   * (`for await (const file of client.files.list({ tag: 'invoices' }))`); `limit` is the page size.
   * `trashed: true` lists the trash instead (the other filters combine with it).
   */
  async *list(filters: ListFilters = {}, options: Signal = {}): AsyncGenerator<FileRecord, void, undefined> {
    let cursor: string | null = null
    do {
      const page: FilePage = await this.page(cursor ? { ...filters, cursor } : filters, options)
      yield* page.items
      cursor = page.nextCursor
    } while (cursor)
  }

  /** `PATCH /files/{id}`: a JSON merge patch (`null` removes an optional field). */
  update(id: string, patch: FilePatch, options: Conditional = {}): Promise<FileRecord> {
    return this.#http.call('PATCH', `/files/${encodeURIComponent(id)}`, { ...options, body: patch })
  }

  /** `PATCH /files`: up to 100 patches by id, or one patch for every match of a filter; all or nothing. */
  async updateMany(changes: FileBatchPatch[] | { filter: FileFilter; patch: FilePatch }, options: Signal = {}): Promise<FileRecord[]> {
    const answer = await this.#http.call<{ items: FileRecord[] }>('PATCH', '/files', { ...options, body: changes })
    return answer.items
  }

  /** `PUT /files/{id}`: every mutable field (optional ones left out are removed). */
  replace(id: string, fields: FileReplace, options: Conditional = {}): Promise<FileRecord> {
    return this.#http.call('PUT', `/files/${encodeURIComponent(id)}`, { ...options, body: fields })
  }

  /**
   * `POST /files/{id}/copy`: a new file with this one's bytes (copied in storage, any size) and
   * fields, the caller as its owner, uploaded; `collection`, `name` and `directory` left out are
   * the source's. Not its `externalId`, grants or versions. The target collection's rules and
   * limits apply as for an upload; a source without content is `409 not_uploaded`.
   */
  copy(id: string, target: FileCopy = {}, options: Signal = {}): Promise<FileRecord> {
    return this.#http.call('POST', `/files/${encodeURIComponent(id)}/copy`, { ...options, body: target })
  }

  /**
   * `DELETE /files/{id}`: the record and its bytes, or into the trash where the file's collection
   * keeps one (`trashDays`); `permanent: true` skips the trash, and deletes a file already in it.
   */
  async delete(id: string, options: Conditional & DeleteOptions = {}): Promise<void> {
    const { permanent, ...rest } = options
    await this.#http.call('DELETE', `/files/${encodeURIComponent(id)}`, permanent ? { ...rest, query: { permanent } } : rest)
  }

  /**
   * `POST /files/delete`: by ids (any number: sent 1,000 a call), or every file a filter matches
   * (a call per page of matches, until none remain). `permanent: true` skips the trash; with a
   * filter of `trashed: true` it empties the trash.
   */
  async deleteMany(which: string[] | { filter: FileFilter }, options: DeleteOptions = {}): Promise<DeleteResult> {
    const { permanent, ...call } = options
    const extra = permanent ? { permanent } : {}
    const result: Required<DeleteResult> = { deleted: [], notFound: [], nextCursor: null }
    if (Array.isArray(which)) {
      for (let i = 0; i < which.length; i += 1000) {
        const answer = await this.#http.call<DeleteResult>('POST', '/files/delete', { ...call, body: { ids: which.slice(i, i + 1000), ...extra } })
        result.deleted.push(...answer.deleted)
        result.notFound.push(...answer.notFound)
      }
      return { deleted: result.deleted, notFound: result.notFound }
    }
    let cursor: string | null | undefined = null
    do {
      const body: { filter: FileFilter; cursor?: string; permanent?: boolean } = cursor ? { filter: which.filter, cursor, ...extra } : { filter: which.filter, ...extra }
      const answer: DeleteResult = await this.#http.call<DeleteResult>('POST', '/files/delete', { ...call, body })
      result.deleted.push(...answer.deleted)
      result.notFound.push(...answer.notFound)
      cursor = answer.nextCursor
    } while (cursor)
    return result
  }

  /** `POST /files/{id}/restore`: brings a file back from the trash as it was (a live one is `409 not_trashed`). */
  restore(id: string, options: Signal = {}): Promise<FileRecord> {
    return this.#http.call('POST', `/files/${encodeURIComponent(id)}/restore`, options)
  }

  /**
   * `GET /files/{id}/versions`: the file's contents, the current one first, then the ones its
   * collection keeps (`versions`), newest first.
   */
  async versions(id: string, options: Signal = {}): Promise<FileVersion[]> {
    return (await this.#http.call<{ items: FileVersion[] }>('GET', `/files/${encodeURIComponent(id)}/versions`, options)).items
  }

  /** One version's bytes as a stream, straight from storage, as `download` (an unknown version is `404 version_not_found`). */
  async downloadVersion(id: string, version: number, options: Signal = {}): Promise<ReadableStream<Uint8Array>> {
    const { signal } = options
    const path = `/files/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}/content`
    // A page cannot read a redirect's Location: it follows it (the token is not sent to another origin).
    let response = await this.#http.call<Response>('GET', path, { signal, raw: true, redirect: inPage ? 'follow' : 'manual' })
    const location = response.status === 302 ? response.headers.get('location') : null
    if (location) response = await this.#http.storageFetch(location, signal ? { signal } : {})
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {})
      throw new StowageError({ status: response.status, code: 'download_failed', detail: `the download of version ${version} of file ${id} answered HTTP ${response.status}`, method: 'GET', path: location ?? path })
    }
    return response.body
  }

  /**
   * `POST /files/{id}/versions/{version}/restore`: that version's content becomes the current one
   * (a copy; the replaced one is kept as a version). The current version is `409 current_version`.
   */
  restoreVersion(id: string, version: number, options: Signal = {}): Promise<FileRecord> {
    return this.#http.call('POST', `/files/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}/restore`, options)
  }

  /** `DELETE /files/{id}/versions/{version}`: a kept version and its bytes (the current one is `409 current_version`). */
  async deleteVersion(id: string, version: number, options: Signal = {}): Promise<void> {
    await this.#http.call('DELETE', `/files/${encodeURIComponent(id)}/versions/${encodeURIComponent(version)}`, options)
  }

  /** A presigned download URL (`GET /files/{id}/content`): `expiresIn` seconds makes it a share link. */
  async downloadUrl(id: string, options: Signal & { expiresIn?: number; disposition?: 'inline' | 'attachment' } = {}): Promise<string> {
    const { signal, expiresIn, disposition } = options
    const path = `/files/${encodeURIComponent(id)}/content`
    const response = await this.#http.call<Response>('GET', path, { signal, query: { expiresIn, disposition }, raw: true, redirect: 'manual' })
    const location = response.headers.get('location')
    if (response.status === 302 && location) return location
    // A page cannot read a redirect's Location: the record's `contentUrl` is a fresh one.
    const record = await this.get(id, { signal })
    if (!record.contentUrl) throw new StowageError({ status: 409, code: 'not_uploaded', detail: `file ${id} has no content`, method: 'GET', path })
    return record.contentUrl
  }

  /**
   * `POST /files/links`: presigned download links of up to 100 files in one call, in the order
   * asked; ids not found are in `notFound` (as for `getMany`), files without content in
   * `notUploaded`. `expiresIn` seconds and `disposition` apply to every link.
   */
  links(ids: string[], options: Signal & LinksQuery = {}): Promise<LinksResult> {
    const { disposition, expiresIn, ...rest } = options
    return this.#http.call('POST', '/files/links', { ...rest, query: { disposition, expiresIn }, body: { ids } })
  }

  /** The file's bytes as a stream, straight from storage (the token is never sent there). */
  async download(id: string, options: Signal = {}): Promise<ReadableStream<Uint8Array>> {
    const url = await this.downloadUrl(id, options)
    const init: RequestInit = options.signal ? { signal: options.signal } : {}
    const response = await this.#http.storageFetch(url, init)
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {})
      throw new StowageError({ status: response.status, code: 'download_failed', detail: `the download of file ${id} answered HTTP ${response.status}`, method: 'GET', path: url })
    }
    return response.body
  }

  /** A thumbnail of an image (`size` 64, 256 or 1024; `wait` up to 10 s for it to be made). */
  async thumbnail(id: string, options: Signal & { size?: 64 | 256 | 1024; wait?: number } = {}): Promise<Thumbnail> {
    const { signal, size, wait } = options
    let response: Response
    try {
      response = await this.#http.call<Response>('GET', `/files/${encodeURIComponent(id)}/thumbnail`, {
        signal,
        query: { size, wait },
        raw: true,
        redirect: inPage ? 'follow' : 'manual',
      })
    } catch (err) {
      if (err instanceof StowageError && err.code === 'no_thumbnail') return { status: 'none' }
      throw err
    }
    if (response.status === 202) {
      const body = (await response.json().catch(() => ({}))) as { retryAfter?: number }
      return { status: 'pending', retryAfter: body.retryAfter ?? 1 }
    }
    const location = response.status === 302 ? response.headers.get('location') : null
    if (location) response = await this.#http.storageFetch(location, signal ? { signal } : {})
    if (!response.ok) throw new StowageError({ status: response.status, code: 'download_failed', detail: `the thumbnail of file ${id} answered HTTP ${response.status}` })
    return { status: 'ready', blob: await response.blob() }
  }

  /** The file's grants (who else may read it, or also change and delete it). */
  async grants(id: string, options: Signal = {}): Promise<Grant[]> {
    return (await this.get(id, options)).grants
  }

  /** Replaces the file's grants (`PATCH` of `grants`; only its owner and apps may). */
  setGrants(id: string, grants: Grant[], options: Conditional = {}): Promise<FileRecord> {
    return this.update(id, { grants: grants.length > 0 ? grants : null }, options)
  }

  /** Lets `principal` (`user:<id>` or `group:<name>`) read the file, or also change and delete it (`writer`). */
  share(id: string, principal: string, role: Grant['role'], options: Signal = {}): Promise<FileRecord> {
    return this.#changeGrants(id, (grants) => [...grants.filter((g) => g.principal !== principal), { principal, role }], options)
  }

  /** Takes `principal`'s grant away. */
  unshare(id: string, principal: string, options: Signal = {}): Promise<FileRecord> {
    return this.#changeGrants(id, (grants) => grants.filter((g) => g.principal !== principal), options)
  }

  /** Read, change, write with `If-Match`; a change made elsewhere in between is read again (3 tries). */
  async #changeGrants(id: string, change: (grants: Grant[]) => Grant[], options: Signal): Promise<FileRecord> {
    for (let attempt = 1; ; attempt++) {
      const record = await this.get(id, options)
      try {
        return await this.setGrants(id, change(record.grants), { ...options, ifMatch: record.version })
      } catch (err) {
        if (!(err instanceof StowageError && err.code === 'version_mismatch') || attempt === 3) throw err
      }
    }
  }

  #context() {
    return { http: this.#http, limits: () => this.#uploads.limits() }
  }
}

/** The steps of an upload, one call each, for apps (and adapters such as Uppy's) that drive their own. */
export class Uploads {
  readonly #http: Http
  #limits: Promise<UploadLimits> | null = null

  constructor(http: Http) {
    this.#http = http
  }

  /** `GET /files/limits` (asked once per client; a failure is asked again next time). */
  limits(options: Signal = {}): Promise<UploadLimits> {
    if (!this.#limits) {
      this.#limits = this.#http.call<UploadLimits>('GET', '/files/limits', options)
      this.#limits.catch(() => {
        this.#limits = null
      })
    }
    return this.#limits
  }

  /** `POST /files/{id}/upload`: a new upload for an existing record. */
  start(id: string, body: UploadRequest = {}, options: Conditional = {}): Promise<FileWithUpload> {
    return this.#http.call('POST', `/files/${encodeURIComponent(id)}/upload`, { ...options, body })
  }

  /** `GET /files/{id}/upload/parts`: the parts the storage holds. */
  async parts(id: string, options: Signal = {}): Promise<StoredPart[]> {
    return (await this.#http.call<{ parts: StoredPart[] }>('GET', `/files/${encodeURIComponent(id)}/upload/parts`, options)).parts
  }

  /** `POST /files/{id}/upload/parts`: fresh URLs for these parts. */
  signParts(id: string, partNumbers: number[], options: Signal & { expiresIn?: number } = {}): Promise<SignedParts> {
    const body = options.expiresIn ? { partNumbers, uploadUrlExpiresIn: options.expiresIn } : { partNumbers }
    return this.#http.call('POST', `/files/${encodeURIComponent(id)}/upload/parts`, { signal: options.signal, body })
  }

  /** `POST /files/{id}/upload/complete` (with `parts`, their ETags are checked too). */
  complete(id: string, parts?: { partNumber: number; etag: string }[], options: Signal = {}): Promise<FileRecord> {
    return this.#http.call('POST', `/files/${encodeURIComponent(id)}/upload/complete`, { ...options, body: parts ? { parts } : undefined })
  }

  /** `DELETE /files/{id}/upload`: abandons the open upload (its parts go). */
  abort(id: string, options: Conditional = {}): Promise<FileRecord> {
    return this.#http.call('DELETE', `/files/${encodeURIComponent(id)}/upload`, options)
  }

  /** `POST /files/{id}/upload/sign`: signs one S3 request of the open upload (Uppy's `signRequest`). */
  sign(id: string, request: SignRequest, options: Signal = {}): Promise<SignedRequest> {
    return this.#http.call('POST', `/files/${encodeURIComponent(id)}/upload/sign`, { ...options, body: request })
  }

  /** Reads the record until it is `uploaded` (a `StowageError` `upload_failed` if it failed). */
  waitUploaded(id: string, options: Signal & { timeoutMs?: number } = {}): Promise<FileRecord> {
    const wait: { signal?: AbortSignal; waitTimeoutMs?: number } = {}
    if (options.signal) wait.signal = options.signal
    if (options.timeoutMs !== undefined) wait.waitTimeoutMs = options.timeoutMs
    return waitUploaded({ http: this.#http, limits: () => this.limits() }, id, wait)
  }
}

/** Collections and their rules (`files:admin` to change them). */
export class Collections {
  readonly #http: Http

  constructor(http: Http) {
    this.#http = http
  }

  /** `POST /collections`. */
  create(collection: CollectionCreate, options: Signal = {}): Promise<Collection> {
    return this.#http.call('POST', '/collections', { ...options, body: collection })
  }

  /** `GET /collections`: every collection of the tenant. */
  async list(options: Signal = {}): Promise<Collection[]> {
    return (await this.#http.call<{ items: Collection[] }>('GET', '/collections', options)).items
  }

  /** `GET /collections/{name}`. */
  get(name: string, options: Signal = {}): Promise<Collection> {
    return this.#http.call('GET', `/collections/${encodeURIComponent(name)}`, options)
  }

  /** `PATCH /collections/{name}`: a merge patch of its rules (`null` removes one). */
  update(name: string, patch: CollectionPatch, options: Conditional = {}): Promise<Collection> {
    return this.#http.call('PATCH', `/collections/${encodeURIComponent(name)}`, { ...options, body: patch })
  }

  /** `DELETE /collections/{name}` (only an empty one). */
  async delete(name: string, options: Conditional = {}): Promise<void> {
    await this.#http.call('DELETE', `/collections/${encodeURIComponent(name)}`, options)
  }
}

/** Folders: a file's `directory` places it; these browse, make, move and delete them. */
export class Folders {
  readonly #http: Http

  constructor(http: Http) {
    this.#http = http
  }

  /**
   * `GET /folders`: every subfolder of `parent` (default `/`) that holds a file the caller may
   * read, or was made with `create`, in name order, across every page.
   */
  async list(parent = '/', options: Signal & { limit?: number } = {}): Promise<Folder[]> {
    const folders: Folder[] = []
    let cursor: string | null = null
    do {
      const query: Record<string, string | number> = { parent }
      if (options.limit !== undefined) query.limit = options.limit
      if (cursor) query.cursor = cursor
      const page: { items: Folder[]; nextCursor: string | null } = await this.#http.call('GET', '/folders', { signal: options.signal, query })
      folders.push(...page.items)
      cursor = page.nextCursor
    } while (cursor)
    return folders
  }

  /** `POST /folders`: makes a folder that shows while empty (making it again is fine). */
  create(path: string, options: Signal = {}): Promise<Folder> {
    return this.#http.call('POST', '/folders', { ...options, body: { path } })
  }

  /**
   * `POST /folders/move`, repeated until done: moves `from` and everything below it to `to`.
   * Resolves with the totals: files moved, and files left because the caller may not change them.
   */
  async move(from: string, to: string, options: Signal = {}): Promise<{ moved: number; skipped: number }> {
    let moved = 0
    let skipped = 0
    let cursor: string | null = null
    do {
      const body: { from: string; to: string; cursor?: string } = cursor ? { from, to, cursor } : { from, to }
      const step: FolderMoveResult = await this.#http.call('POST', '/folders/move', { ...options, body })
      moved += step.moved
      skipped += step.skipped
      cursor = step.nextCursor
    } while (cursor)
    return { moved, skipped }
  }

  /** `DELETE /folders`: deletes a folder made with `create` that holds nothing. */
  async delete(path: string, options: Signal = {}): Promise<void> {
    await this.#http.call('DELETE', '/folders', { ...options, query: { path } })
  }
}
