// @stowage/client: the TypeScript client of Stowage, for Node 20 and browsers, with no runtime
// dependency beyond `fetch` (and `WebSocket` for `subscribe`).
//
//   import { Stowage } from '@stowage/client'
//   const stowage = new Stowage({ endpoint: 'http://127.0.0.1:4600', token })
//   const file = await stowage.files.upload(bytes, { name: 'notes.txt', mimeType: 'text/plain' })
export { Stowage, Files, Collections, Folders, Uploads } from './client.js';
export { StowageError } from './errors.js';
