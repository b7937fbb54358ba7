// One call of the Stowage API: the bearer token, JSON in and out, `If-Match`, problem+json
// answers turned into `StowageError`, and the retries every call gets — `429` (API Gateway's
// throttling) and `503` (a store throttling or out) are tried again after the `Retry-After`
// they name (bounded), or with exponential backoff when they name none; no other answer is
// retried.
import { StowageError } from './errors.js';
import { inNode, nodeFetch } from './node.js';
export class Http {
    endpoint;
    fetch;
    /**
     * The `fetch` for presigned storage URLs (parts, single PUTs, downloads): the one given, else
     * `node:http` in Node (src/node.ts), else the global one.
     */
    storageFetch;
    token;
    retry;
    constructor(endpoint, token, fetchImpl, retry = {}) {
        this.endpoint = endpoint.replace(/\/+$/, '');
        this.token = token;
        const global = globalThis.fetch;
        if (!fetchImpl && typeof global !== 'function')
            throw new TypeError('Stowage: no global fetch; pass `fetch`');
        this.fetch = fetchImpl ?? global.bind(globalThis);
        this.storageFetch = fetchImpl ?? (inNode() ? nodeFetch : this.fetch);
        this.retry = {
            attempts: Math.max(1, retry.attempts ?? 6),
            maxDelayMs: retry.maxDelayMs ?? 30_000,
            baseDelayMs: retry.baseDelayMs ?? 500,
        };
    }
    /** The bearer token for the next call, without a `Bearer ` prefix. */
    async bearer() {
        const value = typeof this.token === 'function' ? await this.token() : this.token;
        return String(value ?? '').replace(/^Bearer\s+/i, '');
    }
    url(path, query) {
        const search = query ? queryString(query) : '';
        return `${this.endpoint}${path}${search ? `?${search}` : ''}`;
    }
    /** Calls the API; resolves with the answer's JSON (`undefined` for an empty body). */
    async call(method, path, options = {}) {
        const response = await this.send(method, path, options);
        if (options.raw)
            return response;
        const text = await response.text();
        return (text ? JSON.parse(text) : undefined);
    }
    async send(method, path, options) {
        const url = this.url(path, options.query);
        const body = options.body === undefined ? undefined : JSON.stringify(options.body);
        for (let attempt = 1;; attempt++) {
            const headers = { authorization: `Bearer ${await this.bearer()}` };
            if (body !== undefined)
                headers['content-type'] = 'application/json';
            if (options.ifMatch !== undefined && options.ifMatch !== null)
                headers['if-match'] = ifMatchValue(options.ifMatch);
            const init = { method, headers };
            if (body !== undefined)
                init.body = body;
            if (options.signal)
                init.signal = options.signal;
            if (options.redirect)
                init.redirect = options.redirect;
            const response = await this.fetch(url, init);
            if ((response.status === 429 || response.status === 503) && attempt < this.retry.attempts) {
                const wait = Math.min(this.retry.maxDelayMs, retryAfterMs(response) ?? this.retry.baseDelayMs * 2 ** (attempt - 1));
                await response.body?.cancel().catch(() => { });
                await sleep(wait, options.signal);
                continue;
            }
            if (response.status >= 400 || (!options.raw && !response.ok))
                throw await errorOf(response, method, path);
            return response;
        }
    }
}
/** The `StowageError` of a failed answer (its problem document when it has one). */
export async function errorOf(response, method, path) {
    const text = await response.text().catch(() => '');
    let problem = null;
    try {
        problem = text ? JSON.parse(text) : null;
    }
    catch {
        problem = null;
    }
    return new StowageError({ status: response.status, problem, method, path });
}
/** `Retry-After` in ms: delay-seconds, or an HTTP date. */
export function retryAfterMs(response) {
    const value = response.headers.get('retry-after')?.trim();
    if (!value)
        return null;
    if (/^\d+$/.test(value))
        return Number(value) * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
}
/** Waits `ms`; rejects with the signal's reason if it aborts first. */
export function sleep(ms, signal) {
    return new Promise((resolve, reject) => {
        if (signal?.aborted)
            return reject(signal.reason);
        const onAbort = () => {
            clearTimeout(timer);
            reject(signal?.reason);
        };
        const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
        }, ms);
        signal?.addEventListener('abort', onAbort, { once: true });
    });
}
function ifMatchValue(value) {
    if (typeof value === 'number')
        return `"${value}"`;
    return /^\d+$/.test(value) ? `"${value}"` : value;
}
function queryString(query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
        if (value === null || value === undefined || value === '')
            continue;
        if (Array.isArray(value))
            for (const item of value)
                params.append(name, String(item));
        else
            params.append(name, String(value));
    }
    return params.toString();
}
