import { Http, type CallOptions, type RetryOptions, type TokenSource } from './http.js';
import { type SubscribeOptions, type Subscription, type WebSocketConstructor } from './realtime.js';
import type { UploadData } from './source.js';
import { type UploadFields, type UploadOptions } from './upload.js';
import type { Collection, CollectionCreate, CollectionPatch, DeleteResult, FileBatchPatch, FileCopy, FileCreate, FileEvent, FileFilter, FilePage, FilePatch, FileRecord, FileReplace, FileVersion, Folder, FileWithUpload, GetManyResult, Grant, LimitsRequest, LinksQuery, LinksResult, ListFilters, ListQuery, RealtimeInfo, SignedParts, SignedRequest, SignRequest, StoredPart, UploadLimits, UploadRequest, Usage } from './types.js';
export interface StowageOptions {
    /** Where the API is: `http://127.0.0.1:4600` (stowage-local) or the stack's `ApiUrl`. */
    endpoint: string;
    /** The bearer token, or a function (possibly async) returning a fresh one for each call. */
    token: TokenSource;
    /** The `fetch` to use (default: the global one). */
    fetch?: typeof fetch;
    /** The WebSocket class for `subscribe` (default: the global one; Node 20 has none: pass `ws`'s). */
    WebSocket?: WebSocketConstructor;
    /** How `429` and `503` answers are retried. */
    retry?: RetryOptions;
}
/** Options every call takes. */
export interface Signal {
    signal?: AbortSignal;
}
/** A conditional write: `ifMatch` is the version the change was made against. */
export interface Conditional extends Signal {
    ifMatch?: number | string;
}
/** A delete: `permanent` skips the trash (and deletes a file already in it). */
export interface DeleteOptions extends Signal {
    permanent?: boolean;
}
/** A thumbnail: the image, not made yet, or none for this file. */
export type Thumbnail = {
    status: 'ready';
    blob: Blob;
} | {
    status: 'pending';
    retryAfter: number;
} | {
    status: 'none';
};
export declare class Stowage {
    #private;
    /** The API's base URL, without a trailing slash. */
    readonly endpoint: string;
    readonly files: Files;
    readonly collections: Collections;
    readonly folders: Folders;
    readonly uploads: Uploads;
    constructor(options: StowageOptions);
    /** Any call of the API, with the token, retries and errors of every other: resolves with its JSON. */
    request<T = unknown>(method: string, path: string, options?: CallOptions): Promise<T>;
    /** `GET /usage`: bytes and files stored, by collection, and the tenant's limits. */
    usage(options?: Signal): Promise<Usage>;
    /** `PUT /usage/limits` (`files:admin`): `0` is no limit, a limit left out the deployment's default. */
    setLimits(limits: LimitsRequest, options?: Signal): Promise<Usage>;
    /** `GET /realtime`: where to subscribe and this identity's channels. */
    realtime(options?: Signal): Promise<RealtimeInfo>;
    /**
     * Calls `onEvent` with each event of every file this identity may read, as it happens, once
     * per `eventId`; reconnects and resubscribes until `close()` (or `signal`).
     */
    subscribe(onEvent: (event: FileEvent) => void, options?: SubscribeOptions): Subscription;
}
/** File records, their bytes, versions and grants, and the trash. */
export declare class Files {
    #private;
    constructor(http: Http, uploads: Uploads);
    /**
     * Uploads `data` (bytes, a Blob or File, a path in Node, or a stream) as a new file, and
     * resolves with its record once `uploaded` (unless `wait: false`): one `PUT` up to the
     * server's multipart threshold, parts in parallel above it. See `UploadOptions` for progress,
     * abort and resume.
     */
    upload(data: UploadData, fields?: UploadFields, options?: UploadOptions): Promise<FileRecord>;
    /** New bytes for an existing file (`POST /files/{id}/upload`); the old ones stay readable until these land. */
    reupload(id: string, data: UploadData, options?: UploadOptions & {
        ifMatch?: number | string;
        size?: number;
    }): Promise<FileRecord>;
    /** `POST /files`: the record and its upload instructions, without sending any byte. */
    create(fields: FileCreate, options?: Signal): Promise<FileWithUpload>;
    /** `GET /files/{id}` (`trashed: true` reads it from the trash, where only it is then found). */
    get(id: string, options?: Signal & {
        trashed?: boolean;
    }): Promise<FileRecord>;
    /**
     * `POST /files/get`: the records of up to 100 ids in one call, in the order asked (a repeated
     * id once); ids unknown, expired, in the trash or not readable are in `notFound`, alike.
     */
    getMany(ids: string[], options?: Signal): Promise<GetManyResult>;
    /** One page of `GET /files` (`limit`, `cursor` from the previous page's `nextCursor`). */
    page(query?: ListQuery, options?: Signal): Promise<FilePage>;
    /**
     * Every record that matches `filters`, newest first, over every page
     * (`for await (const file of client.files.list({ tag: 'invoices' }))`); `limit` is the page size.
     * `trashed: true` lists the trash instead (the other filters combine with it).
     */
    list(filters?: ListFilters, options?: Signal): AsyncGenerator<FileRecord, void, undefined>;
    /** `PATCH /files/{id}`: a JSON merge patch (`null` removes an optional field). */
    update(id: string, patch: FilePatch, options?: Conditional): Promise<FileRecord>;
    /** `PATCH /files`: up to 100 patches by id, or one patch for every match of a filter; all or nothing. */
    updateMany(changes: FileBatchPatch[] | {
        filter: FileFilter;
        patch: FilePatch;
    }, options?: Signal): Promise<FileRecord[]>;
    /** `PUT /files/{id}`: every mutable field (optional ones left out are removed). */
    replace(id: string, fields: FileReplace, options?: Conditional): Promise<FileRecord>;
    /**
     * `POST /files/{id}/copy`: a new file with this one's bytes (copied in storage, any size) and
     * fields, the caller as its owner, uploaded; `collection`, `name` and `directory` left out are
     * the source's. Not its `externalId`, grants or versions. The target collection's rules and
     * limits apply as for an upload; a source without content is `409 not_uploaded`.
     */
    copy(id: string, target?: FileCopy, options?: Signal): Promise<FileRecord>;
    /**
     * `DELETE /files/{id}`: the record and its bytes, or into the trash where the file's collection
     * keeps one (`trashDays`); `permanent: true` skips the trash, and deletes a file already in it.
     */
    delete(id: string, options?: Conditional & DeleteOptions): Promise<void>;
    /**
     * `POST /files/delete`: by ids (any number: sent 1,000 a call), or every file a filter matches
     * (a call per page of matches, until none remain). `permanent: true` skips the trash; with a
     * filter of `trashed: true` it empties the trash.
     */
    deleteMany(which: string[] | {
        filter: FileFilter;
    }, options?: DeleteOptions): Promise<DeleteResult>;
    /** `POST /files/{id}/restore`: brings a file back from the trash as it was (a live one is `409 not_trashed`). */
    restore(id: string, options?: Signal): Promise<FileRecord>;
    /**
     * `GET /files/{id}/versions`: the file's contents, the current one first, then the ones its
     * collection keeps (`versions`), newest first.
     */
    versions(id: string, options?: Signal): Promise<FileVersion[]>;
    /** One version's bytes as a stream, straight from storage, as `download` (an unknown version is `404 version_not_found`). */
    downloadVersion(id: string, version: number, options?: Signal): Promise<ReadableStream<Uint8Array>>;
    /**
     * `POST /files/{id}/versions/{version}/restore`: that version's content becomes the current one
     * (a copy; the replaced one is kept as a version). The current version is `409 current_version`.
     */
    restoreVersion(id: string, version: number, options?: Signal): Promise<FileRecord>;
    /** `DELETE /files/{id}/versions/{version}`: a kept version and its bytes (the current one is `409 current_version`). */
    deleteVersion(id: string, version: number, options?: Signal): Promise<void>;
    /** A presigned download URL (`GET /files/{id}/content`): `expiresIn` seconds makes it a share link. */
    downloadUrl(id: string, options?: Signal & {
        expiresIn?: number;
        disposition?: 'inline' | 'attachment';
    }): Promise<string>;
    /**
     * `POST /files/links`: presigned download links of up to 100 files in one call, in the order
     * asked; ids not found are in `notFound` (as for `getMany`), files without content in
     * `notUploaded`. `expiresIn` seconds and `disposition` apply to every link.
     */
    links(ids: string[], options?: Signal & LinksQuery): Promise<LinksResult>;
    /** The file's bytes as a stream, straight from storage (the token is never sent there). */
    download(id: string, options?: Signal): Promise<ReadableStream<Uint8Array>>;
    /** A thumbnail of an image (`size` 64, 256 or 1024; `wait` up to 10 s for it to be made). */
    thumbnail(id: string, options?: Signal & {
        size?: 64 | 256 | 1024;
        wait?: number;
    }): Promise<Thumbnail>;
    /** The file's grants (who else may read it, or also change and delete it). */
    grants(id: string, options?: Signal): Promise<Grant[]>;
    /** Replaces the file's grants (`PATCH` of `grants`; only its owner and apps may). */
    setGrants(id: string, grants: Grant[], options?: Conditional): Promise<FileRecord>;
    /** Lets `principal` (`user:<id>` or `group:<name>`) read the file, or also change and delete it (`writer`). */
    share(id: string, principal: string, role: Grant['role'], options?: Signal): Promise<FileRecord>;
    /** Takes `principal`'s grant away. */
    unshare(id: string, principal: string, options?: Signal): Promise<FileRecord>;
}
/** The steps of an upload, one call each, for apps (and adapters such as Uppy's) that drive their own. */
export declare class Uploads {
    #private;
    constructor(http: Http);
    /** `GET /files/limits` (asked once per client; a failure is asked again next time). */
    limits(options?: Signal): Promise<UploadLimits>;
    /** `POST /files/{id}/upload`: a new upload for an existing record. */
    start(id: string, body?: UploadRequest, options?: Conditional): Promise<FileWithUpload>;
    /** `GET /files/{id}/upload/parts`: the parts the storage holds. */
    parts(id: string, options?: Signal): Promise<StoredPart[]>;
    /** `POST /files/{id}/upload/parts`: fresh URLs for these parts. */
    signParts(id: string, partNumbers: number[], options?: Signal & {
        expiresIn?: number;
    }): Promise<SignedParts>;
    /** `POST /files/{id}/upload/complete` (with `parts`, their ETags are checked too). */
    complete(id: string, parts?: {
        partNumber: number;
        etag: string;
    }[], options?: Signal): Promise<FileRecord>;
    /** `DELETE /files/{id}/upload`: abandons the open upload (its parts go). */
    abort(id: string, options?: Conditional): Promise<FileRecord>;
    /** `POST /files/{id}/upload/sign`: signs one S3 request of the open upload (Uppy's `signRequest`). */
    sign(id: string, request: SignRequest, options?: Signal): Promise<SignedRequest>;
    /** Reads the record until it is `uploaded` (a `StowageError` `upload_failed` if it failed). */
    waitUploaded(id: string, options?: Signal & {
        timeoutMs?: number;
    }): Promise<FileRecord>;
}
/** Collections and their rules (`files:admin` to change them). */
export declare class Collections {
    #private;
    constructor(http: Http);
    /** `POST /collections`. */
    create(collection: CollectionCreate, options?: Signal): Promise<Collection>;
    /** `GET /collections`: every collection of the tenant. */
    list(options?: Signal): Promise<Collection[]>;
    /** `GET /collections/{name}`. */
    get(name: string, options?: Signal): Promise<Collection>;
    /** `PATCH /collections/{name}`: a merge patch of its rules (`null` removes one). */
    update(name: string, patch: CollectionPatch, options?: Conditional): Promise<Collection>;
    /** `DELETE /collections/{name}` (only an empty one). */
    delete(name: string, options?: Conditional): Promise<void>;
}
/** Folders: a file's `directory` places it; these browse, make, move and delete them. */
export declare class Folders {
    #private;
    constructor(http: Http);
    /**
     * `GET /folders`: every subfolder of `parent` (default `/`) that holds a file the caller may
     * read, or was made with `create`, in name order, across every page.
     */
    list(parent?: string, options?: Signal & {
        limit?: number;
    }): Promise<Folder[]>;
    /** `POST /folders`: makes a folder that shows while empty (making it again is fine). */
    create(path: string, options?: Signal): Promise<Folder>;
    /**
     * `POST /folders/move`, repeated until done: moves `from` and everything below it to `to`.
     * Resolves with the totals: files moved, and files left because the caller may not change them.
     */
    move(from: string, to: string, options?: Signal): Promise<{
        moved: number;
        skipped: number;
    }>;
    /** `DELETE /folders`: deletes a folder made with `create` that holds nothing. */
    delete(path: string, options?: Signal): Promise<void>;
}
