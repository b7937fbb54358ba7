// Changes as they happen: `GET /realtime` says where to connect and which channels
// are this identity's; AppSync Events' WebSocket protocol carries the file events there (a
// deployed stack's AppSync API, or stowage-local's `/event/realtime`). Reconnects with backoff
// (0.5 s doubling to 30 s, with jitter) and resubscribes; drops repeats by `eventId` (one event
// on two channels, redeliveries); says `resumed` after a reconnect so the app can read what
// changed while it was away.

import type { Http } from './http.js'
import { errorOf } from './http.js'
import type { FileEvent, RealtimeInfo } from './types.js'

/** The part of a WebSocket the SDK uses (the browser's, or the `ws` package's in Node). */
export interface WebSocketLike {
  send(data: string): void
  close(code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: unknown) => void) | null
  onerror: ((event: unknown) => void) | null
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node 20. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** How the subscription stands. */
export type SubscriptionState = 'connecting' | 'live' | 'disconnected' | 'unavailable'

export interface SubscribeOptions {
  /**
   * Told how the connection stands: `live` once every channel is subscribed (`{ resumed: true }`
   * after a reconnect: read what changed meanwhile), `unavailable` when the deployment has no
   * realtime endpoint (`404 realtime_unavailable`; nothing more is tried).
   */
  onState?: (state: SubscriptionState, detail?: { resumed?: boolean; error?: unknown }) => void
  /** Aborting closes the subscription. */
  signal?: AbortSignal
}

export interface Subscription {
  /** Stops: closes the connection, no reconnect. */
  close(): void
}

/** Most event ids remembered to drop repeats. */
const SEEN_EVENTS = 1000

export function subscribe(
  http: Http,
  Socket: WebSocketConstructor | undefined,
  onEvent: (event: FileEvent) => void,
  { onState = () => {}, signal }: SubscribeOptions = {},
): Subscription {
  if (typeof onEvent !== 'function') throw new TypeError('subscribe: `onEvent` must be a function')
  const found = Socket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (!found) {
    throw new TypeError('subscribe: this runtime has no global WebSocket; pass one to new Stowage({ WebSocket }) (e.g. the `ws` package in Node 20)')
  }
  const WS: WebSocketConstructor = found
  const seen: string[] = []
  const seenSet = new Set<string>()
  let socket: WebSocketLike | null = null
  let timer: ReturnType<typeof setTimeout> | undefined
  let watchdog: ReturnType<typeof setTimeout> | undefined
  let closed = false
  let attempt = 0
  let wasLive = false

  function retry(error?: unknown) {
    if (closed) return
    onState('disconnected', error === undefined ? {} : { error })
    const delay = Math.min(30_000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2)
    attempt += 1
    timer = setTimeout(connect, delay)
  }

  async function connect() {
    if (closed) return
    onState('connecting')
    let info: RealtimeInfo
    let auth: string
    try {
      auth = await http.bearer()
      const response = await http.fetch(http.url('/realtime'), { headers: { authorization: `Bearer ${auth}` } })
      if (!response.ok) {
        const error = await errorOf(response, 'GET', '/realtime')
        if (error.status === 404 && error.code === 'realtime_unavailable') {
          onState('unavailable', { error })
          return
        }
        throw error
      }
      info = (await response.json()) as RealtimeInfo
    } catch (error) {
      retry(error)
      return
    }
    if (closed) return
    const authorization = { host: info.host, Authorization: auth }
    let ws: WebSocketLike
    try {
      ws = new WS(info.url, ['aws-appsync-event-ws', `header-${base64url(JSON.stringify(authorization))}`])
    } catch (error) {
      retry(error)
      return
    }
    socket = ws
    const ids = info.channels.map((_, i) => `stowage-${i}`)
    const subscribed = new Set<string>()
    /** The server's word on how long a silent connection lives (AppSync's `connectionTimeoutMs`). */
    let timeoutMs = 300_000
    /** No message for the server's connection timeout: the connection is dead; start again. */
    const arm = (ms: number) => {
      clearTimeout(watchdog)
      watchdog = setTimeout(() => ws.close(), ms)
    }
    ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init' }))
    ws.onmessage = (message) => {
      let msg: { type?: string; id?: string; event?: unknown; connectionTimeoutMs?: number }
      try {
        msg = JSON.parse(textOf(message.data))
      } catch {
        return
      }
      if (msg.type === 'connection_ack') {
        timeoutMs = msg.connectionTimeoutMs ?? 300_000
        arm(timeoutMs)
        info.channels.forEach((channel, i) => ws.send(JSON.stringify({ type: 'subscribe', id: ids[i], channel, authorization })))
        return
      }
      arm(timeoutMs)
      if (msg.type === 'subscribe_success' && msg.id && ids.includes(msg.id)) {
        subscribed.add(msg.id)
        if (subscribed.size === ids.length) {
          attempt = 0
          onState('live', { resumed: wasLive })
          wasLive = true
        }
      } else if (msg.type === 'subscribe_error') {
        // A channel GET /realtime named was refused: start again later.
        ws.close()
      } else if (msg.type === 'data') {
        let event: FileEvent
        try {
          event = (typeof msg.event === 'string' ? JSON.parse(msg.event) : msg.event) as FileEvent
        } catch {
          return
        }
        if (!event || typeof event.eventId !== 'string' || seenSet.has(event.eventId)) return
        seen.push(event.eventId)
        seenSet.add(event.eventId)
        if (seen.length > SEEN_EVENTS) seenSet.delete(seen.shift()!)
        onEvent(event)
      }
    }
    ws.onerror = () => {}
    ws.onclose = () => {
      clearTimeout(watchdog)
      if (socket === ws) {
        socket = null
        retry()
      }
    }
  }

  const subscription = {
    close() {
      if (closed) return
      closed = true
      clearTimeout(timer)
      clearTimeout(watchdog)
      const ws = socket
      socket = null
      ws?.close()
    },
  }
  if (signal?.aborted) subscription.close()
  else {
    signal?.addEventListener('abort', () => subscription.close(), { once: true })
    void connect()
  }
  return subscription
}

function textOf(data: unknown): string {
  if (typeof data === 'string') return data
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data as ArrayBuffer)
  return String(data)
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

