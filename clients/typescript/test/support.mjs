// What the SDK's tests share: a stowage-local of their own (web/test-support.mjs's startLocal:
// a fresh data dir on a free loopback port, from STOWAGE_LOCAL_BIN, failing loudly without it),
// the built SDK, the `ws` WebSocket for Node 20, deterministic bytes, and a fetch that records
// what the SDK sent.
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { after } from 'node:test'
import { fileURLToPath } from 'node:url'

export const HERE = dirname(fileURLToPath(import.meta.url))
export const SDK = resolve(HERE, '..')
export const REPO = resolve(SDK, '../..')
export const WEB = join(REPO, 'web')

if (!process.env.STOWAGE_LOCAL_BIN) {
  // Never a skip: without the server there is nothing to test against.
  throw new Error('set STOWAGE_LOCAL_BIN to the stowage-local binary (the SDK tests run against a real one)')
}

export { MIB, bytes, startLocal, waitFor } from '../../../web/test-support.mjs'
export * from '../dist/index.js'

/** The `ws` package's WebSocket (pinned in web/package.json), for `subscribe` in Node 20. */
export const WebSocket = createRequire(join(WEB, 'package.json'))('ws')

/**
 * A `fetch` that records every request (`method`, `url`, `headers`, `bodyText` for JSON bodies)
 * before handing it to the real one; `before(request)` may delay or fail it.
 */
export function recordingFetch({ before } = {}) {
  const requests = []
  const wrapped = async (url, init = {}) => {
    const headers = Object.fromEntries(new Headers(init.headers ?? {}).entries())
    const entry = {
      method: init.method ?? 'GET',
      url: String(url),
      headers,
      bodyText: typeof init.body === 'string' ? init.body : null,
      bodySize: init.body == null ? 0 : typeof init.body === 'string' ? init.body.length : (init.body.byteLength ?? init.body.size ?? null),
    }
    requests.push(entry)
    if (before) await before(entry, init)
    const response = await fetch(url, init)
    entry.status = response.status
    return response
  }
  return { fetch: wrapped, requests }
}

/** Whether a request is the PUT of a part (`partNumber=` in a presigned URL). */
export const isPartPut = (r) => r.method === 'PUT' && /[?&]partNumber=\d+/.test(r.url)
/** The part number of a part PUT. */
export const partNumberOf = (r) => Number(/[?&]partNumber=(\d+)/.exec(r.url)[1])

/** Reads a web ReadableStream to one Buffer. */
export async function readAll(stream) {
  const chunks = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

/**
 * Starts a stowage-local and makes a client for acme/alice (and an app client); call it at the
 * top level of a test file, so the server stops when the file's tests end.
 */
export async function localWithClients({ env = {}, args = [], fetch: fetchImpl } = {}) {
  const { startLocal } = await import('../../../web/test-support.mjs')
  const { Stowage } = await import('../dist/index.js')
  const local = await startLocal({ env, args })
  // The server would keep the test file's process alive: it goes when the file's tests end.
  after(() => local.process?.kill())
  const token = local.token('acme', 'alice')
  const adminToken = local.token('acme', 'acme-app', 'files:read files:write files:delete files:admin')
  const options = fetchImpl ? { fetch: fetchImpl } : {}
  const client = new Stowage({ endpoint: local.endpoint, token, WebSocket, ...options })
  const admin = new Stowage({ endpoint: local.endpoint, token: async () => adminToken, WebSocket })
  return { local, token, adminToken, client, admin }
}
