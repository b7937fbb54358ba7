// The upload dance: create the record (or open a re-upload), then send the bytes straight to
// storage through the presigned URLs the API hands out — one `PUT` with exactly the headers it
// binds, or parts in parallel, each retried with backoff and re-signed when its URL has expired
// — then complete, and wait for the record to be `uploaded`. A multipart upload cut short (a
// crash, a network gone) is finished later from the file id: the server says which parts it
// holds, only the missing ones are signed and sent. An aborted upload is abandoned through the
// API, so no parts are left behind.
import { StowageError } from './errors.js';
import { sleep } from './http.js';
import { openSource, typeFromName } from './source.js';
const PART_BATCH = 100;
/** `files.upload`. */
export async function upload(ctx, data, fields = {}, options = {}) {
    const source = await openSource(data, fields.size);
    try {
        if (options.resumeId)
            return await resume(ctx, options.resumeId, source, options);
        const { name: givenName, mimeType: givenType, size: _size, ...rest } = fields;
        const name = givenName ?? source.name;
        if (!name)
            throw new TypeError('files.upload: give the file a `name` (bytes and streams carry none)');
        const mimeType = givenType ?? source.type ?? typeFromName(name) ?? 'application/octet-stream';
        const body = { ...rest, name, mimeType, size: source.size };
        await planMultipart(ctx, body, source.size, options);
        const created = await ctx.http.call('POST', '/files', { body, signal: options.signal });
        options.onCreated?.(created.file);
        return await send(ctx, created, source, options);
    }
    finally {
        await source.close();
    }
}
/** `files.reupload`: new bytes for an existing record (its current content stays readable until they land). */
export async function reupload(ctx, id, data, options = {}) {
    const source = await openSource(data, options.size);
    try {
        const body = { size: source.size };
        await planMultipart(ctx, body, source.size, options);
        const started = await ctx.http.call('POST', `/files/${id}/upload`, {
            body,
            ifMatch: options.ifMatch,
            signal: options.signal,
        });
        options.onCreated?.(started.file);
        return await send(ctx, started, source, options);
    }
    finally {
        await source.close();
    }
}
async function planMultipart(ctx, body, size, options) {
    if (options.partSize) {
        if (size > options.partSize) {
            body.multipart = true;
            body.partSize = options.partSize;
        }
        return;
    }
    if (size > (await ctx.limits()).multipartThreshold)
        body.multipart = true;
}
async function send(ctx, created, source, options) {
    const { file, upload } = created;
    const progress = progressOf(source.size, options.onProgress);
    try {
        if ('uploadId' in upload) {
            const plan = new Plan(upload.partSize, upload.partCount, source.size);
            const urls = new Map(upload.parts.map((p) => [p.partNumber, p.url]));
            const todo = Array.from({ length: plan.partCount }, (_, i) => i + 1);
            progress.report();
            const etags = await sendParts(ctx, file.id, plan, urls, todo, source, options, progress);
            return await complete(ctx, file.id, plan, etags, options.signal);
        }
        if (upload.method !== 'PUT')
            throw new TypeError('files.upload: the server planned a form POST, which this SDK does not send');
        progress.report();
        await putWhole(ctx, upload, source, options);
        progress.add(source.size);
        return options.wait === false ? file : await waitUploaded(ctx, file.id, options);
    }
    catch (err) {
        if (options.signal?.aborted) {
            await abandon(ctx, file.id);
            throw options.signal.reason ?? err;
        }
        throw err;
    }
}
/** Abandons the open upload (its parts go; the record keeps its previous content, or becomes `failed`). */
async function abandon(ctx, id) {
    await ctx.http.call('DELETE', `/files/${id}/upload`).catch(() => { });
}
async function resume(ctx, id, source, options) {
    const { signal } = options;
    const record = await ctx.http.call('GET', `/files/${id}`, { signal });
    if (record.expectedSize !== null && record.expectedSize !== source.size) {
        throw new TypeError(`files.upload: the data is ${source.size} bytes but file ${id} expects ${record.expectedSize}`);
    }
    let stored;
    try {
        stored = (await ctx.http.call('GET', `/files/${id}/upload/parts`, { signal })).parts;
    }
    catch (err) {
        // Nothing left to send: the upload was completed before the interruption.
        if (err instanceof StowageError && err.status === 409 && record.status === 'uploaded')
            return record;
        throw err;
    }
    const held = new Map(stored.map((p) => [p.partNumber, p]));
    // The plan's part size: every part but the last has it. Parts 1..m-1 are held whole, so part 1
    // tells it; if part 1 is missing, the URL signed for it says its size.
    const urls = new Map();
    let lowestMissing = 1;
    while (held.has(lowestMissing))
        lowestMissing++;
    let partSize;
    if (lowestMissing > 1) {
        partSize = held.get(1).size;
    }
    else {
        const signed = await signParts(ctx, id, [1], signal);
        const first = signed.find((p) => p.partNumber === 1);
        if (!first)
            throw new StowageError({ status: 0, code: 'part_failed', detail: `the server signed no URL for part 1 of ${id}` });
        urls.set(1, first.url);
        partSize = first.size;
    }
    const plan = new Plan(partSize, Math.max(1, Math.ceil(source.size / partSize)), source.size);
    const done = (n) => held.get(n)?.size === plan.length(n);
    const todo = Array.from({ length: plan.partCount }, (_, i) => i + 1).filter((n) => !done(n));
    const progress = progressOf(source.size, options.onProgress);
    progress.add(source.size - todo.reduce((sum, n) => sum + plan.length(n), 0));
    const etags = await (async () => {
        try {
            return await sendParts(ctx, id, plan, urls, todo, source, options, progress);
        }
        catch (err) {
            if (signal?.aborted) {
                await abandon(ctx, id);
                throw signal.reason ?? err;
            }
            throw err;
        }
    })();
    for (const n of held.keys())
        if (done(n) && !etags.has(n))
            etags.set(n, held.get(n).etag);
    return complete(ctx, id, plan, etags, signal);
}
class Plan {
    partSize;
    partCount;
    size;
    constructor(partSize, partCount, size) {
        this.partSize = partSize;
        this.partCount = partCount;
        this.size = size;
    }
    offset(n) {
        return (n - 1) * this.partSize;
    }
    length(n) {
        return n < this.partCount ? this.partSize : this.size - this.offset(n);
    }
}
function progressOf(total, onProgress) {
    let loaded = 0;
    const report = () => onProgress?.({ loaded, total });
    return {
        add(bytes) {
            loaded += bytes;
            report();
        },
        report,
    };
}
async function signParts(ctx, id, numbers, signal) {
    const answer = await ctx.http.call('POST', `/files/${id}/upload/parts`, {
        body: { partNumbers: numbers, uploadUrlExpiresIn: 3600 },
        signal,
    });
    return answer.parts;
}
/**
 * Sends the parts `todo` with `parallel` in flight; resolves with the ETag of each part sent.
 * The first part that fails for good stops the others.
 */
async function sendParts(ctx, id, plan, urls, todo, source, options, progress) {
    const etags = new Map();
    const stop = new AbortController();
    const onAbort = () => stop.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted)
        stop.abort(options.signal.reason);
    const attempts = Math.max(1, options.attempts ?? 6);
    const queue = [...todo];
    let signing = null;
    /** The URL of part `n`, signing it and the next missing ones (up to 100) when it has none. */
    async function urlOf(n) {
        for (;;) {
            const url = urls.get(n);
            if (url)
                return url;
            if (signing) {
                await signing;
                continue;
            }
            const batch = [n, ...queue.filter((m) => m > n && !urls.has(m))].slice(0, PART_BATCH);
            signing = signParts(ctx, id, batch, stop.signal).then((parts) => {
                for (const part of parts)
                    urls.set(part.partNumber, part.url);
                if (!urls.has(n))
                    throw new StowageError({ status: 0, code: 'part_failed', detail: `the server signed no URL for part ${n}` });
            });
            try {
                await signing;
            }
            finally {
                signing = null;
            }
        }
    }
    async function sendOne(n, body) {
        let last = '';
        let status = 0;
        for (let attempt = 1; attempt <= attempts; attempt++) {
            if (attempt > 1)
                await sleep(200 * 2 ** (attempt - 1), stop.signal);
            const url = await urlOf(n);
            let response;
            try {
                response = await ctx.http.storageFetch(url, { method: 'PUT', body: body, signal: stop.signal });
            }
            catch (err) {
                if (stop.signal.aborted)
                    throw err;
                last = String(err?.message ?? err);
                continue;
            }
            if (response.ok) {
                await response.body?.cancel().catch(() => { });
                const etag = response.headers.get('etag');
                if (etag)
                    etags.set(n, etag);
                progress.add(plan.length(n));
                return;
            }
            status = response.status;
            last = `HTTP ${response.status} ${storageCode(await response.text().catch(() => ''))}`.trim();
            // An expired URL (or credentials gone): sign it again.
            if (response.status === 403)
                urls.delete(n);
        }
        throw new StowageError({ status, code: 'part_failed', detail: `part ${n} of file ${id} failed ${attempts} times: ${last}` });
    }
    async function worker() {
        while (queue.length > 0 && !stop.signal.aborted) {
            const n = queue.shift();
            // Read the part only now: at most `parallel` parts are in memory.
            const body = await source.read(plan.offset(n), plan.offset(n) + plan.length(n));
            try {
                await sendOne(n, body);
            }
            finally {
                source.release?.(body);
            }
        }
    }
    const workers = Array.from({ length: Math.max(1, Math.min(options.parallel ?? 4, todo.length)) }, () => worker().catch((err) => {
        stop.abort(err);
        throw err;
    }));
    try {
        const results = await Promise.allSettled(workers);
        const failed = results.find((r) => r.status === 'rejected');
        if (options.signal?.aborted)
            throw options.signal.reason;
        if (failed)
            throw failed.reason;
        return etags;
    }
    finally {
        options.signal?.removeEventListener('abort', onAbort);
    }
}
async function complete(ctx, id, plan, etags, signal) {
    // The ETags are checked too when every part's is known (a browser reads them only where the
    // bucket's CORS exposes `ETag`).
    const all = Array.from({ length: plan.partCount }, (_, i) => i + 1);
    const body = all.every((n) => etags.has(n)) ? { parts: all.map((n) => ({ partNumber: n, etag: etags.get(n) })) } : undefined;
    return ctx.http.call('POST', `/files/${id}/upload/complete`, { body, signal });
}
async function putWhole(ctx, upload, source, options) {
    const body = await source.read(0, source.size);
    const attempts = Math.max(1, options.attempts ?? 6);
    let last = '';
    let status = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
        if (attempt > 1)
            await sleep(200 * 2 ** (attempt - 1), options.signal);
        let response;
        try {
            // Exactly the headers the presigned URL binds.
            const init = { method: 'PUT', headers: upload.headers, body: body };
            if (options.signal)
                init.signal = options.signal;
            response = await ctx.http.storageFetch(upload.url, init);
        }
        catch (err) {
            if (options.signal?.aborted)
                throw err;
            last = String(err?.message ?? err);
            continue;
        }
        if (response.ok) {
            await response.body?.cancel().catch(() => { });
            return;
        }
        status = response.status;
        last = `HTTP ${response.status} ${storageCode(await response.text().catch(() => ''))}`.trim();
        // A refusal that sending again cannot change (a wrong header, an expired URL).
        if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429)
            break;
    }
    throw new StowageError({ status, code: 'upload_failed', detail: `the upload to storage failed: ${last}` });
}
/** S3's error code in an XML answer (`<Code>SignatureDoesNotMatch</Code>`), or `''`. */
function storageCode(text) {
    return /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? '';
}
/** Reads the record until it is no longer `pending` (reading also completes it if the storage event is late). */
export async function waitUploaded(ctx, id, options = {}) {
    const started = Date.now();
    const deadline = started + (options.waitTimeoutMs ?? 60_000);
    // Every 100 ms for the first 5 s (the storage event usually lands within a second or two, and
    // a longer pause is time the caller waits for nothing), then backing off to once a second.
    for (let delay = 100;; delay = Date.now() - started < 5_000 ? 100 : Math.min(1000, delay * 1.5)) {
        const record = await ctx.http.call('GET', `/files/${id}`, { signal: options.signal });
        if (record.status === 'uploaded')
            return record;
        if (record.status === 'failed') {
            throw new StowageError({ status: 0, code: 'upload_failed', detail: record.failureReason ?? `file ${id} failed`, method: 'GET', path: `/files/${id}` });
        }
        if (Date.now() > deadline) {
            throw new StowageError({ status: 0, code: 'wait_timeout', detail: `file ${id} is still pending`, method: 'GET', path: `/files/${id}` });
        }
        await sleep(delay, options.signal);
    }
}
