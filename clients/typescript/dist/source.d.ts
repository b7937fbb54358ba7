/** What `files.upload` takes. */
export type UploadData = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;
/** A request body the SDK sends to a presigned URL. */
export type PartBody = Uint8Array | Blob;
export interface Source {
    /** Total bytes. */
    readonly size: number;
    /** A name the data carries (a `File`'s, a path's base name). */
    readonly name: string | undefined;
    /** A media type the data carries (a `Blob`'s `type`). */
    readonly type: string | undefined;
    /** Whether parts must be read in order (a stream). */
    readonly sequential: boolean;
    /** The bytes `[start, end)`; in order and without gaps for a sequential source (skipping is allowed). */
    read(start: number, end: number): Promise<PartBody>;
    /** Hands back what `read` gave once it is sent for good: its memory may hold a later part. */
    release?(body: PartBody): void;
    close(): Promise<void>;
}
/**
 * Opens `data` as a source of `size` bytes. A stream of unknown size (no `size` given) is read
 * into memory first.
 */
export declare function openSource(data: UploadData, size?: number): Promise<Source>;
/** Bytes, a typed array or view, an `ArrayBuffer` or a string as bytes; anything else `undefined`. */
export declare function toBytes(value: unknown): Uint8Array | undefined;
/** A media type guessed from a file name's extension (a few common ones), or `undefined`. */
export declare function typeFromName(name: string): string | undefined;
