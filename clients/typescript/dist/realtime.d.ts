import type { Http } from './http.js';
import type { FileEvent } from './types.js';
/** The part of a WebSocket the SDK uses (the browser's, or the `ws` package's in Node). */
export interface WebSocketLike {
    send(data: string): void;
    close(code?: number, reason?: string): void;
    onopen: ((event: unknown) => void) | null;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
    onclose: ((event: unknown) => void) | null;
    onerror: ((event: unknown) => void) | null;
}
/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
/** How the subscription stands. */
export type SubscriptionState = 'connecting' | 'live' | 'disconnected' | 'unavailable';
export interface SubscribeOptions {
    /**
     * Told how the connection stands: `live` once every channel is subscribed (`{ resumed: true }`
     * after a reconnect: read what changed meanwhile), `unavailable` when the deployment has no
     * realtime endpoint (`404 realtime_unavailable`; nothing more is tried).
     */
    onState?: (state: SubscriptionState, detail?: {
        resumed?: boolean;
        error?: unknown;
    }) => void;
    /** Aborting closes the subscription. */
    signal?: AbortSignal;
}
export interface Subscription {
    /** Stops: closes the connection, no reconnect. */
    close(): void;
}
export declare function subscribe(http: Http, Socket: WebSocketConstructor | undefined, onEvent: (event: FileEvent) => void, { onState, signal }?: SubscribeOptions): Subscription;
