// The requests to presigned storage URLs (part and single PUTs, downloads) over Node's own
// `node:http`/`node:https`, used in Node when no `fetch` was given: Node's built-in fetch
// (undici) copies every request body, moves a download through web streams in 64 KiB pieces
// and kept 250–260 MiB for a 1 GiB upload and download against ~140 MiB over `node:http`, at
// the same speed (clients/typescript/README.md, "Speed"). The
// modules are imported only when the first such request is made, through a computed specifier,
// so a browser bundle has no Node import (and never calls this: `inNode()` is false there).
//
// `nodeFetch` is a `fetch` for what the SDK sends there and nothing more: a method, a plain
// headers object, a body of bytes or a Blob, a signal, redirects followed as fetch does; it
// answers with a real `Response`, whose body is a byte stream fed from the socket as it is read.
import { toBytes } from './source.js';
/** Whether this runtime is Node itself (not a page, Deno or Bun, whose `fetch` is their own). */
export function inNode() {
    const g = globalThis;
    return Boolean(g.process?.versions?.node) && !g.process?.versions?.bun && g.Deno === undefined && g.document === undefined;
}
const modules = new Map();
/** `node:http` or `node:https`, imported once, on first use. */
function httpModule(protocol) {
    let loaded = modules.get(protocol);
    if (!loaded) {
        // A computed specifier: bundlers leave it alone, so the browser build has no Node import.
        const specifier = ['node', protocol === 'https:' ? 'https' : 'http'].join(':');
        loaded = import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
        modules.set(protocol, loaded);
    }
    return loaded;
}
/** A socket quiet this long fails the request (undici's body and headers timeouts). */
const IDLE_TIMEOUT_MS = 300_000;
/** What the response stream holds before it stops reading the socket (at most). */
const STREAM_BUFFER = 1024 * 1024;
/** The size of the chunks a download's reader gets (at most). */
const GATHER = 1024 * 1024;
/** Runs `f` once the event loop has handled the I/O it was in (Node's `setImmediate`). */
const afterIo = globalThis.setImmediate ?? ((f) => setTimeout(f, 0));
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** `fetch`, for the SDK's requests to storage, over `node:http`/`node:https`. */
export async function nodeFetch(input, init = {}) {
    let url = new URL(String(input));
    let method = (init.method ?? 'GET').toUpperCase();
    let body = await bytesOf(init.body);
    const headers = {};
    new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
    });
    const signal = init.signal ?? undefined;
    for (let redirects = 0;; redirects++) {
        if (url.protocol !== 'http:' && url.protocol !== 'https:')
            throw new TypeError(`fetch: ${url.protocol} URLs are not supported`);
        const response = await send(url, method, headers, body, signal);
        const location = response.headers.get('location');
        if (!REDIRECTS.has(response.status) || !location || init.redirect === 'manual')
            return response;
        if (init.redirect === 'error')
            throw new TypeError(`fetch: redirected to ${location}`);
        if (redirects >= 20)
            throw new TypeError('fetch: too many redirects');
        await response.body?.cancel().catch(() => { });
        const next = new URL(location, url);
        // As fetch does: a 303 (and a 301/302 of a POST) becomes a GET without a body.
        if (response.status === 303 ? method !== 'HEAD' : (response.status === 301 || response.status === 302) && method === 'POST') {
            method = 'GET';
            body = undefined;
            for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'])
                delete headers[name];
        }
        if (next.origin !== url.origin)
            delete headers['authorization'];
        url = next;
    }
}
/** The body as bytes (a Blob is read: a part is at most the part size). */
async function bytesOf(body) {
    if (body === undefined || body === null)
        return undefined;
    const bytes = toBytes(body);
    if (bytes)
        return bytes;
    if (typeof Blob !== 'undefined' && body instanceof Blob)
        return new Uint8Array(await body.arrayBuffer());
    throw new TypeError('fetch: only bytes, a string or a Blob can be sent to storage here');
}
function send(url, method, headers, body, signal) {
    return httpModule(url.protocol).then((http) => new Promise((resolve, reject) => {
        if (signal?.aborted)
            return reject(signal.reason);
        const sent = { ...headers };
        if (body !== undefined || method === 'PUT' || method === 'POST')
            sent['content-length'] = String(body?.byteLength ?? 0);
        const request = http.request(url, { method, headers: sent });
        let settled = false;
        let incoming = null;
        let stream = null;
        const fail = (err) => {
            if (!settled) {
                settled = true;
                reject(err);
            }
            else if (stream) {
                try {
                    stream.error(err);
                }
                catch {
                    // already closed or errored
                }
                stream = null;
            }
        };
        const onAbort = () => {
            const reason = signal?.reason;
            request.destroy(reason);
            incoming?.destroy(reason);
            fail(reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = () => signal?.removeEventListener('abort', onAbort);
        // The idle timeout counts only while this side waits for the other: it is off while a
        // download is paused because its reader is behind.
        request.on('timeout', () => request.destroy(new Error(`no answer from ${url.host} in ${IDLE_TIMEOUT_MS / 1000} s`)));
        request.setTimeout(IDLE_TIMEOUT_MS);
        request.on('error', (err) => {
            // Once an answer came, the answer decides (a refusal while the body was still being
            // written breaks the pipe, and is still a refusal); a connection lost after it fails
            // the answer's own stream (its 'close' without 'end').
            if (incoming)
                return;
            done();
            fail(err);
        });
        request.on('response', (res) => {
            incoming = res;
            const status = res.statusCode ?? 0;
            let init;
            try {
                // What `Response` refuses (a status outside 200–599, a header value it rejects)
                // fails this request rather than the process.
                if (status < 200 || status > 599)
                    throw new TypeError(`fetch: ${url.host} answered with status ${status}`);
                const responseHeaders = new Headers();
                for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
                    responseHeaders.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
                init = { status, statusText: res.statusMessage ?? '', headers: responseHeaders };
            }
            catch (err) {
                done();
                res.destroy();
                request.destroy();
                incoming = null;
                fail(err);
                return;
            }
            // An answer that came before the whole body was written (a refusal): the rest is not
            // sent, so the caller may reuse the body's memory as soon as this resolves.
            const cutShort = () => {
                if (!request.writableFinished)
                    request.destroy();
            };
            res.on('error', (err) => {
                done();
                fail(err);
            });
            if (method !== 'GET' || NULL_BODY.has(status)) {
                // The short answer of a PUT (or none): read whole, so the connection is reused.
                const chunks = [];
                res.on('data', (chunk) => chunks.push(chunk));
                res.on('end', () => {
                    done();
                    cutShort();
                    settled = true;
                    const text = NULL_BODY.has(status) || method === 'HEAD' ? null : concat(chunks);
                    resolve(new Response(text, init));
                });
                res.on('close', () => {
                    if (!res.complete)
                        fail(new Error(`the answer from ${url.host} was cut short`));
                });
                return;
            }
            // A download: a byte stream fed from the socket, pausing it while the reader lags.
            const body = new ReadableStream({
                type: 'bytes',
                start(controller) {
                    stream = controller;
                },
                pull() {
                    if (res.isPaused()) {
                        request.setTimeout(IDLE_TIMEOUT_MS);
                        res.resume();
                    }
                },
                cancel(reason) {
                    stream = null;
                    done();
                    res.destroy(reason);
                    request.destroy();
                },
            }, { highWaterMark: STREAM_BUFFER });
            // The socket's pieces (64 KiB at most) gathered into larger chunks: a reader that
            // writes each chunk to a file makes one write of each (a 64 KiB write each time cost
            // more than the transfer itself). What came in one turn of the event loop is handed
            // on at the end of it, so a slow network's bytes are not held back.
            let gathered = null;
            let filled = 0;
            let flushing = false;
            const flush = () => {
                flushing = false;
                if (!gathered || filled === 0 || !stream)
                    return;
                if (filled === GATHER) {
                    stream.enqueue(gathered);
                    gathered = null;
                }
                else {
                    // A partly filled buffer is copied out and kept for the next turn: a chunk holds
                    // only its own bytes, so what the stream buffers is what it counts.
                    stream.enqueue(gathered.slice(0, filled));
                }
                filled = 0;
                if ((stream.desiredSize ?? 0) <= 0) {
                    res.pause();
                    request.setTimeout(0);
                }
            };
            res.on('data', (chunk) => {
                if (!stream)
                    return;
                for (let at = 0; at < chunk.byteLength;) {
                    gathered ??= new Uint8Array(GATHER);
                    const n = Math.min(chunk.byteLength - at, GATHER - filled);
                    gathered.set(n === chunk.byteLength ? chunk : chunk.subarray(at, at + n), filled);
                    filled += n;
                    at += n;
                    if (filled === GATHER)
                        flush();
                }
                if (!flushing && filled > 0) {
                    flushing = true;
                    afterIo(flush);
                }
            });
            res.on('end', () => {
                done();
                cutShort();
                flush();
                stream?.close();
                stream = null;
            });
            res.on('close', () => {
                if (!res.complete)
                    fail(new Error(`the download from ${url.host} was cut short`));
            });
            settled = true;
            resolve(new Response(body, init));
        });
        request.end(body);
    }));
}
function concat(chunks) {
    if (chunks.length === 1)
        return chunks[0];
    const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.byteLength, 0));
    let at = 0;
    for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.byteLength;
    }
    return out;
}
