// @stowage/client: the TypeScript client of Stowage, for Node 20 and browsers, with no runtime
// dependency beyond `fetch` (and `WebSocket` for `subscribe`).
//
//   import { Stowage } from '@stowage/client'
//   const stowage = new Stowage({ endpoint: 'http://127.0.0.1:4600', token })
//   const file = await stowage.files.upload(bytes, { name: 'notes.txt', mimeType: 'text/plain' })

export { Stowage, Files, Collections, Folders, Uploads } from './client.js'
export type { StowageOptions, Signal, Conditional, DeleteOptions, Thumbnail } from './client.js'
export { StowageError } from './errors.js'
export type { Problem, ErrorCode, StowageErrorInit } from './errors.js'
export type { TokenSource, RetryOptions, CallOptions, Query } from './http.js'
export type { SubscribeOptions, Subscription, SubscriptionState, WebSocketConstructor, WebSocketLike } from './realtime.js'
export type { UploadData } from './source.js'
export type { UploadFields, UploadOptions, UploadProgress } from './upload.js'
export type * from './types.js'
export type { components, operations, paths } from './openapi.js'
