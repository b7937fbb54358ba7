// The shapes the SDK speaks, named once: every one is taken from the types that
// openapi-typescript generates from openapi.yaml (src/openapi.ts), so a change of the contract
// that the SDK does not follow fails its compile.

import type { components, operations } from './openapi.js'

type Schemas = components['schemas']
type Json<O extends keyof operations, S extends keyof operations[O]['responses']> =
  operations[O]['responses'][S] extends { content: { 'application/json': infer T } } ? T : never
type Body<O extends keyof operations> =
  operations[O]['requestBody'] extends { content: { 'application/json': infer T } } | undefined ? T : never

/** A file record (`GET /files/{id}`). */
export type FileRecord = Schemas['File']
/** The body of `POST /files`. */
export type FileCreate = Schemas['FileCreate']
/** A JSON merge patch of a file's mutable fields (`PATCH /files/{id}`). */
export type FilePatch = Schemas['FilePatch']
/** Every mutable field of a file (`PUT /files/{id}`). */
export type FileReplace = Schemas['FileReplace']
/** The listing filters, as an object (`POST /files/delete` and `PATCH /files` by filter). */
export type FileFilter = Schemas['FileFilter']
/** The body of `POST /files/{id}/copy`: where the copy goes and its name (each left out: the source's). */
export type FileCopy = Body<'copyFile'>
/** One element of `PATCH /files` by ids. */
export type FileBatchPatch = Schemas['FileBatchPatch']
/** The options of a re-upload (`POST /files/{id}/upload`). */
export type UploadRequest = Schemas['UploadRequest']
/** A record with how to upload its bytes (`POST /files`, `POST /files/{id}/upload`). */
export type FileWithUpload = Schemas['FileWithUpload']
/** How to upload the bytes: one `PUT`, a form `POST`, or a multipart plan (`'uploadId' in upload`). */
export type Upload = Schemas['Upload']
export type SinglePutUpload = Schemas['SinglePutUpload']
export type PostFormUpload = Schemas['PostFormUpload']
export type MultipartUpload = Schemas['MultipartUpload']
/** A presigned URL for one part. */
export type PartUrl = Schemas['PartUrl']
/** A part the storage holds (`GET /files/{id}/upload/parts`). */
export type StoredPart = Schemas['StoredPart']
/** One content of a file, the current one or one its collection keeps (`GET /files/{id}/versions`). */
export type FileVersion = Schemas['FileVersion']
/** One page of `GET /files`. */
export type FilePage = Schemas['FilePage']
/** A collection and its rules. */
export type Collection = Schemas['Collection']
export type CollectionCreate = Schemas['CollectionCreate']
export type CollectionPatch = Schemas['CollectionPatch']
/** `GET /usage`. */
export type Usage = Schemas['Usage']
/** `PUT /usage/limits`. */
export type LimitsRequest = Schemas['LimitsRequest']
/** A file grant (`{"principal": "user:bob", "role": "reader"}`). */
export type Grant = Schemas['Grant']
/** `user:<id>` or `group:<name>`. */
export type Principal = Schemas['Principal']

/** A folder (`GET /folders`). */
export type Folder = Schemas['Folder']
/** What one `POST /folders/move` call did. */
export type FolderMoveResult = Json<'moveFolder', 200>

/** The query of `GET /files`: every listing filter, plus `limit` and `cursor`. */
export type ListQuery = NonNullable<operations['listFiles']['parameters']['query']>
/** The listing filters (`GET /files` without `limit` and `cursor`). */
export type ListFilters = Omit<ListQuery, 'cursor'>
/** `GET /files/limits`: what uploads are planned with. */
export type UploadLimits = Json<'getUploadLimits', 200>
/** `GET /realtime`: where to subscribe, and this identity's channels. */
export type RealtimeInfo = Json<'getRealtime', 200>
/** `POST /files/delete`'s answer. */
export type DeleteResult = Json<'deleteFiles', 200>
/** `POST /files/get`'s answer: the records found, in the order asked, and the ids not found. */
export type GetManyResult = Json<'getFiles', 200>
/** `POST /files/links`'s answer: the links, in the order asked, the ids not found and those without content. */
export type LinksResult = Json<'getFileLinks', 200>
/** One presigned download link of `POST /files/links`. */
export type FileLink = LinksResult['items'][number]
/** The query of `POST /files/links`: `disposition` and `expiresIn` (seconds) of every link. */
export type LinksQuery = NonNullable<operations['getFileLinks']['parameters']['query']>
/** The body of `POST /files/{id}/upload/sign` (Uppy's `signRequest`). */
export type SignRequest = Body<'signUploadRequest'>
/** A signed S3 request of the file's open upload. */
export type SignedRequest = Json<'signUploadRequest', 200>
/** `POST /files/{id}/upload/parts`'s answer. */
export type SignedParts = Json<'signUploadParts', 200>

/** The `type` of a file event. */
export type FileEventType =
  | 'stowage.file.created'
  | 'stowage.file.uploaded'
  | 'stowage.file.failed'
  | 'stowage.file.updated'
  | 'stowage.file.deleted'
  | 'stowage.file.expired'
  | 'stowage.file.trashed'
  | 'stowage.file.restored'
  | 'stowage.file.version_restored'

/**
 * A file event as realtime delivers it: the event's `Detail` (events.schema.json) plus its
 * `type`. `file` is the record without `contentUrl`; `eventId` is the same on every delivery of
 * the same change.
 */
export interface FileEvent {
  type: FileEventType
  eventId: string
  tenant: string
  file: Omit<FileRecord, 'contentUrl'>
  previous: { status: FileRecord['status']; version: number } | null
  actor: { user: string; app: boolean } | null
  occurredAt: string
  /** Set when the event was too large for AppSync and `file` holds only its key fields. */
  trimmed?: true
}
