// The bytes of an upload, whatever the app hands over: bytes (`Uint8Array`, `ArrayBuffer`, any
// typed array or `Buffer`), a `Blob` or `File`, a path (Node only), or a stream (a Node
// `Readable`, a web `ReadableStream`, any async iterable of byte chunks). Random-access sources
// give any part when it is sent; a stream gives its parts in order, read only as they are sent,
// so at most `parallel` parts are ever in memory.
/**
 * Opens `data` as a source of `size` bytes. A stream of unknown size (no `size` given) is read
 * into memory first.
 */
export async function openSource(data, size) {
    if (typeof Blob !== 'undefined' && data instanceof Blob)
        return blobSource(data);
    if (data instanceof ArrayBuffer)
        return bytesSource(new Uint8Array(data));
    if (ArrayBuffer.isView(data))
        return bytesSource(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (typeof data === 'string')
        return pathSource(data);
    const chunks = chunksOf(data);
    if (chunks) {
        if (size === undefined || size === null)
            return bytesSource(await readAll(chunks));
        return streamSource(chunks, size);
    }
    throw new TypeError('files.upload: data must be bytes, a Blob, a path, or a stream of bytes');
}
function bytesSource(bytes) {
    return {
        size: bytes.byteLength,
        name: undefined,
        type: undefined,
        sequential: false,
        read: async (start, end) => bytes.subarray(start, end),
        close: async () => { },
    };
}
function blobSource(blob) {
    const name = typeof blob.name === 'string' && blob.name !== '' ? blob.name : undefined;
    return {
        size: blob.size,
        name,
        type: blob.type || undefined,
        sequential: false,
        // A slice has no type of its own, so fetch sends no Content-Type the URL does not bind.
        read: async (start, end) => (start === 0 && end === blob.size && !blob.type ? blob : blob.slice(start, end)),
        close: async () => { },
    };
}
/** Node's `fs/promises`, imported only when a path is uploaded (a browser bundle never loads it). */
async function nodeFs() {
    const runtime = globalThis.process;
    if (!runtime?.versions?.node) {
        throw new TypeError('files.upload: a path can only be uploaded from Node; pass a Blob or bytes');
    }
    // A computed specifier: bundlers leave it alone, so the browser build has no Node import.
    const specifier = ['node', 'fs/promises'].join(':');
    return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier));
}
async function pathSource(path) {
    const fs = await nodeFs();
    const stat = await fs.stat(path);
    if (!stat.isFile())
        throw new TypeError(`files.upload: ${path} is not a file`);
    const handle = await fs.open(path, 'r');
    // The parts' memory, reused: a part sent is read into the buffer of one sent before, so an
    // upload holds `parallel` part buffers however large the file (not one per part, left to
    // the garbage collector).
    const free = [];
    const mine = new WeakSet();
    return {
        size: stat.size,
        name: path.split(/[\\/]/).pop() || undefined,
        type: typeFromName(path),
        sequential: false,
        async read(start, end) {
            const length = end - start;
            const at = free.findIndex((buffer) => buffer.byteLength >= length);
            const buffer = at >= 0 ? free.splice(at, 1)[0] : new ArrayBuffer(length);
            mine.add(buffer);
            const bytes = new Uint8Array(buffer, 0, length);
            let done = 0;
            try {
                while (done < bytes.length) {
                    const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
                    if (bytesRead === 0)
                        throw new Error(`${path} is shorter than ${end} bytes (did it change?)`);
                    done += bytesRead;
                }
            }
            catch (err) {
                free.push(buffer);
                throw err;
            }
            return bytes;
        },
        release(body) {
            if (body instanceof Uint8Array && mine.has(body.buffer) && !free.includes(body.buffer))
                free.push(body.buffer);
        },
        close: () => handle.close(),
    };
}
function chunksOf(data) {
    if (data && typeof data[Symbol.asyncIterator] === 'function') {
        return data[Symbol.asyncIterator]();
    }
    if (data && typeof data.getReader === 'function') {
        const reader = data.getReader();
        return {
            next: async () => {
                const { done, value } = await reader.read();
                return done ? { done: true, value: undefined } : { done: false, value };
            },
            return: async () => {
                await reader.cancel().catch(() => { });
                return { done: true, value: undefined };
            },
        };
    }
    return null;
}
/** Bytes, a typed array or view, an `ArrayBuffer` or a string as bytes; anything else `undefined`. */
export function toBytes(value) {
    if (value instanceof Uint8Array)
        return value;
    if (value instanceof ArrayBuffer)
        return new Uint8Array(value);
    if (ArrayBuffer.isView(value))
        return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (typeof value === 'string')
        return new TextEncoder().encode(value);
    return undefined;
}
function asBytes(chunk) {
    const bytes = toBytes(chunk);
    if (!bytes)
        throw new TypeError('files.upload: a stream must yield bytes');
    return bytes;
}
async function readAll(chunks) {
    const parts = [];
    let total = 0;
    for (;;) {
        const { done, value } = await chunks.next();
        if (done)
            break;
        const bytes = asBytes(value);
        parts.push(bytes);
        total += bytes.byteLength;
    }
    return concat(parts, total);
}
function concat(parts, total) {
    if (parts.length === 1 && parts[0].byteLength === total)
        return parts[0];
    const out = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
        out.set(part, at);
        at += part.byteLength;
    }
    return out;
}
function streamSource(chunks, size) {
    let position = 0;
    let pending = new Uint8Array(0);
    let lock = Promise.resolve();
    /** The next `length` bytes of the stream (fewer only at its end). */
    async function take(length) {
        const parts = [];
        let total = 0;
        while (total < length) {
            if (pending.byteLength === 0) {
                const { done, value } = await chunks.next();
                if (done)
                    break;
                pending = asBytes(value);
                continue;
            }
            const piece = pending.subarray(0, length - total);
            pending = pending.subarray(piece.byteLength);
            parts.push(piece);
            total += piece.byteLength;
        }
        position += total;
        return concat(parts, total);
    }
    return {
        size,
        name: undefined,
        type: undefined,
        sequential: true,
        read(start, end) {
            // Callers ask in order; the lock keeps two parallel reads from interleaving.
            const result = lock.then(async () => {
                if (start < position)
                    throw new Error('a stream cannot be read backwards');
                if (start > position)
                    await take(start - position);
                const bytes = await take(end - start);
                if (bytes.byteLength !== end - start) {
                    throw new Error(`the stream ended at ${position} bytes, before the ${size} declared`);
                }
                return bytes;
            });
            lock = result.catch(() => { });
            return result;
        },
        close: async () => {
            await chunks.return?.();
        },
    };
}
const TYPES = {
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
};
/** A media type guessed from a file name's extension (a few common ones), or `undefined`. */
export function typeFromName(name) {
    const extension = /\.([A-Za-z0-9]+)$/.exec(name)?.[1]?.toLowerCase();
    return extension ? TYPES[extension] : undefined;
}
