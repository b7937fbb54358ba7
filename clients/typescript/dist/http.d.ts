import { StowageError } from './errors.js';
/** A bearer token, or a function (possibly async) returning a fresh one for each call. */
export type TokenSource = string | (() => string | Promise<string>);
/** How busy answers (`429`, `503`) are retried. */
export interface RetryOptions {
    /** Attempts of a call in all (default 6). */
    attempts?: number;
    /** The longest wait between two attempts, whatever `Retry-After` asks, in ms (default 30,000). */
    maxDelayMs?: number;
    /** The first wait when the answer names none, in ms; it doubles each attempt (default 500). */
    baseDelayMs?: number;
}
/** A query string as an object: arrays repeat the parameter; `null`, `undefined` and `''` are left out. */
export type Query = Record<string, string | number | boolean | readonly (string | number)[] | null | undefined>;
export interface CallOptions {
    query?: Query | undefined;
    body?: unknown;
    /** A version (`3`) or an `If-Match` value (`"3"`, `W/"3"`, `*`). */
    ifMatch?: number | string | undefined;
    signal?: AbortSignal | undefined;
    /** Resolve with the `Response` itself (any status below 400) instead of its JSON. */
    raw?: boolean;
    redirect?: RequestRedirect;
}
export declare class Http {
    readonly endpoint: string;
    readonly fetch: typeof fetch;
    /**
     * The `fetch` for presigned storage URLs (parts, single PUTs, downloads): the one given, else
     * `node:http` in Node (src/node.ts), else the global one.
     */
    readonly storageFetch: typeof fetch;
    private readonly token;
    private readonly retry;
    constructor(endpoint: string, token: TokenSource, fetchImpl: typeof fetch | undefined, retry?: RetryOptions);
    /** The bearer token for the next call, without a `Bearer ` prefix. */
    bearer(): Promise<string>;
    url(path: string, query?: Query): string;
    /** Calls the API; resolves with the answer's JSON (`undefined` for an empty body). */
    call<T>(method: string, path: string, options?: CallOptions): Promise<T>;
    private send;
}
/** The `StowageError` of a failed answer (its problem document when it has one). */
export declare function errorOf(response: Response, method: string, path: string): Promise<StowageError>;
/** `Retry-After` in ms: delay-seconds, or an HTTP date. */
export declare function retryAfterMs(response: Response): number | null;
/** Waits `ms`; rejects with the signal's reason if it aborts first. */
export declare function sleep(ms: number, signal?: AbortSignal): Promise<void>;
