// The SDK's `fetch` for presigned storage URLs in Node (src/node.ts), against stub servers that
// do what storage does and what it sometimes does wrong: a body sent whole, a large download
// streamed back intact, redirects, an abort, a connection cut mid-download, an early refusal.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { test } from 'node:test'
import { inNode, nodeFetch } from '../dist/node.js'

async function serve(handler) {
  const server = createServer(handler)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  return { url, close: () => new Promise((resolve) => server.close(resolve)), server }
}

async function readAll(stream) {
  const chunks = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

const sha = (bytes) => createHash('sha256').update(bytes).digest('hex')

test('Node is Node', () => {
  assert.equal(inNode(), true)
})

test('a PUT sends its body whole with its headers and reads the answer', async () => {
  const body = randomBytes(3 * 1024 * 1024 + 17)
  let seen
  const stub = await serve((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      seen = { method: req.method, type: req.headers['content-type'], length: req.headers['content-length'], body: Buffer.concat(chunks) }
      res.writeHead(200, { etag: '"abc"' })
      res.end('ok')
    })
  })
  try {
    const response = await nodeFetch(`${stub.url}/part?x=1`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body })
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('etag'), '"abc"')
    assert.equal(await response.text(), 'ok')
    assert.equal(seen.method, 'PUT')
    assert.equal(seen.type, 'image/png')
    assert.equal(seen.length, String(body.length))
    assert.equal(sha(seen.body), sha(body))
  } finally {
    await stub.close()
  }
})

test('a download of 40 MiB streams back intact, in chunks of at most 1 MiB', async () => {
  const bytes = randomBytes(40 * 1024 * 1024)
  const stub = await serve((req, res) => {
    res.writeHead(200, { 'content-length': String(bytes.length) })
    res.end(bytes)
  })
  try {
    const response = await nodeFetch(`${stub.url}/object`)
    assert.equal(response.status, 200)
    let largest = 0
    const chunks = []
    for await (const chunk of response.body) {
      largest = Math.max(largest, chunk.byteLength)
      chunks.push(chunk)
    }
    assert.ok(largest <= 1024 * 1024, `a chunk of ${largest} bytes`)
    assert.equal(sha(Buffer.concat(chunks)), sha(bytes))
    for (const chunk of chunks) assert.equal(chunk.buffer.byteLength, chunk.byteLength, 'a chunk holds only its own bytes')
  } finally {
    await stub.close()
  }
})

test('a redirect is followed, and the Authorization header is not sent to another origin', async () => {
  let headers
  const target = await serve((req, res) => {
    headers = req.headers
    res.end('thumbnail')
  })
  const first = await serve((req, res) => {
    res.writeHead(302, { location: `${target.url}/thumb.webp` })
    res.end()
  })
  try {
    const response = await nodeFetch(`${first.url}/files/x/thumbnail`, { headers: { authorization: 'Bearer secret' } })
    assert.equal(response.status, 200)
    assert.equal(await response.text(), 'thumbnail')
    assert.equal(headers.authorization, undefined)
    const manual = await nodeFetch(`${first.url}/files/x/thumbnail`, { redirect: 'manual' })
    assert.equal(manual.status, 302)
  } finally {
    await first.close()
    await target.close()
  }
})

test('a download cut short errors its stream rather than ending it early', async () => {
  const stub = await serve((req, res) => {
    res.writeHead(200, { 'content-length': String(8 * 1024 * 1024) })
    res.write(randomBytes(1024 * 1024), () => res.socket.destroy())
  })
  try {
    const response = await nodeFetch(`${stub.url}/object`)
    await assert.rejects(readAll(response.body))
  } finally {
    await stub.close()
  }
})

test('an abort before the answer rejects with the reason; an abort mid-download errors the stream', async () => {
  const stub = await serve((req, res) => {
    if (req.url === '/slow') return // never answers
    res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) })
    res.write(randomBytes(1024 * 1024))
  })
  try {
    const early = new AbortController()
    const pending = nodeFetch(`${stub.url}/slow`, { signal: early.signal })
    setTimeout(() => early.abort(new Error('stop now')), 50)
    await assert.rejects(pending, /stop now/)

    const late = new AbortController()
    const response = await nodeFetch(`${stub.url}/object`, { signal: late.signal })
    const reader = response.body.getReader()
    await reader.read()
    late.abort(new Error('enough'))
    await assert.rejects(
      (async () => {
        for (;;) if ((await reader.read()).done) break
      })(),
      /enough/,
    )
  } finally {
    stub.server.closeAllConnections()
    await stub.close()
  }
})

test('a refusal before the body is read, the connection then closed, is still the refusal', async () => {
  const stub = await serve((req, res) => {
    res.writeHead(403, { 'content-type': 'application/xml', connection: 'close' })
    res.end('<Error><Code>SignatureDoesNotMatch</Code></Error>', () => req.socket.destroy())
  })
  try {
    for (let i = 0; i < 5; i++) {
      const response = await nodeFetch(`${stub.url}/part`, { method: 'PUT', body: randomBytes(64 * 1024 * 1024) })
      assert.equal(response.status, 403)
      assert.match(await response.text(), /SignatureDoesNotMatch/)
    }
  } finally {
    stub.server.closeAllConnections()
    await stub.close()
  }
})

test('a trickled download is handed on as it comes, each chunk holding only its own bytes', async () => {
  const stub = await serve(async (req, res) => {
    res.writeHead(200, { 'content-length': String(200 * 1460) })
    for (let i = 0; i < 200; i++) {
      res.write(Buffer.alloc(1460, i))
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    res.end()
  })
  try {
    const response = await nodeFetch(`${stub.url}/object`)
    const chunks = []
    for await (const chunk of response.body) chunks.push(chunk)
    assert.ok(chunks.length > 1, 'handed on before the end')
    assert.equal(Buffer.concat(chunks).length, 200 * 1460)
    for (const chunk of chunks) assert.equal(chunk.buffer.byteLength, chunk.byteLength, `a chunk of ${chunk.byteLength} bytes holds ${chunk.buffer.byteLength}`)
  } finally {
    await stub.close()
  }
})

test('a status fetch cannot represent rejects the request and leaves the process standing', async () => {
  const stub = await serve((req, res) => {
    res.writeHead(600)
    res.end('odd')
  })
  try {
    await assert.rejects(nodeFetch(`${stub.url}/object`), /status 600/)
    await assert.rejects(nodeFetch(`${stub.url}/part`, { method: 'PUT', body: new Uint8Array(10) }), /status 600/)
  } finally {
    await stub.close()
  }
})
