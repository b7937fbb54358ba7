import type { Http } from './http.js';
import type { UploadData } from './source.js';
import type { FileCreate, FileRecord, UploadLimits } from './types.js';
/** The record fields of an upload: `FileCreate` where `name`, `mimeType` and `size` may come from the data. */
export type UploadFields = Omit<FileCreate, 'name' | 'mimeType' | 'size' | 'expectedSize' | 'multipart' | 'partSize' | 'uploadMethod'> & {
    /** Default: the `File`'s or the path's name. */
    name?: string;
    /** Default: the `Blob`'s type, a type guessed from the name, or `application/octet-stream`. */
    mimeType?: string;
    /** The size in bytes; required to stream a stream without reading it into memory first. */
    size?: number;
};
/** How far an upload is. */
export interface UploadProgress {
    /** Bytes the storage holds (parts already there count at once on a resume). */
    loaded: number;
    total: number;
}
export interface UploadOptions {
    /** Called as bytes land: after each part, and after a single `PUT`. */
    onProgress?: (progress: UploadProgress) => void;
    /** Called with the record as soon as it exists, before any byte is sent: keep `file.id` to resume. */
    onCreated?: (file: FileRecord) => void;
    /** Aborting stops the transfer and abandons the upload through the API (no parts are left). */
    signal?: AbortSignal;
    /** Wait for the record to be `uploaded` (default `true`); `false` resolves once the bytes are sent. */
    wait?: boolean;
    /** How long to wait for `uploaded` after the bytes are sent, in ms (default 60,000). */
    waitTimeoutMs?: number;
    /** Parts in flight at once (default 4). */
    parallel?: number;
    /**
     * Part size in bytes. When set, a file larger than this goes up in parts of this size;
     * otherwise the server's threshold (`GET /files/limits`) decides and the server its part size.
     */
    partSize?: number;
    /** Finish the interrupted multipart upload of this file id: only the parts the server lacks are sent. */
    resumeId?: string;
    /** Attempts per part (and per single `PUT`) before the upload fails (default 6). */
    attempts?: number;
}
/** What the upload needs of the client. */
export interface UploadContext {
    http: Http;
    limits(): Promise<UploadLimits>;
}
/** `files.upload`. */
export declare function upload(ctx: UploadContext, data: UploadData, fields?: UploadFields, options?: UploadOptions): Promise<FileRecord>;
/** `files.reupload`: new bytes for an existing record (its current content stays readable until they land). */
export declare function reupload(ctx: UploadContext, id: string, data: UploadData, options?: UploadOptions & {
    ifMatch?: number | string;
    size?: number;
}): Promise<FileRecord>;
/** Reads the record until it is no longer `pending` (reading also completes it if the storage event is late). */
export declare function waitUploaded(ctx: UploadContext, id: string, options?: {
    signal?: AbortSignal;
    waitTimeoutMs?: number;
}): Promise<FileRecord>;
