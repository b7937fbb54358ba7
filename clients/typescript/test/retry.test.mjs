// Busy answers against a stub HTTP server of the test's own: `503` and `429` are tried again
// after the `Retry-After` they name (the wait is measured), bounded by `maxDelayMs`, with
// backoff when they name none, until the attempts run out; no other answer is retried.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { after, test } from 'node:test'
import { Stowage, StowageError } from '../dist/index.js'

/** Answers each request with the next of `answers` (then 200 `{"ok": true}`); records when each came. */
function stub() {
  const arrivals = []
  let answers = []
  const server = createServer((req, res) => {
    arrivals.push({ at: performance.now(), method: req.method, url: req.url, authorization: req.headers.authorization })
    const next = answers.shift() ?? { status: 200, body: { ok: true } }
    res.writeHead(next.status, { 'content-type': next.status >= 400 ? 'application/problem+json' : 'application/json', ...(next.headers ?? {}) })
    res.end(JSON.stringify(next.body ?? {}))
  })
  return {
    arrivals,
    answer: (...list) => {
      answers = list
      arrivals.length = 0
    },
    listen: () => new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(`http://127.0.0.1:${server.address().port}`))),
    close: () => server.close(),
  }
}

const server = stub()
const endpoint = await server.listen()
after(() => server.close())
const unavailable = { code: 'unavailable', status: 503, title: 'Service Unavailable', type: 'urn:stowage:problem:unavailable', detail: 'the store is throttling' }

test('a 503 with Retry-After is tried again after that many seconds, then succeeds', async () => {
  let calls = 0
  const client = new Stowage({ endpoint, token: async () => `t${++calls}` })
  server.answer({ status: 503, headers: { 'retry-after': '1' }, body: unavailable })
  const answer = await client.usage()
  assert.deepEqual(answer, { ok: true })
  assert.equal(server.arrivals.length, 2)
  const waited = server.arrivals[1].at - server.arrivals[0].at
  assert.ok(waited >= 990 && waited < 3000, `waited ${waited.toFixed(0)} ms for Retry-After: 1`)
  // The token function is asked again for each attempt.
  assert.deepEqual(server.arrivals.map((a) => a.authorization), ['Bearer t1', 'Bearer t2'])
})

test("a 429 without Retry-After backs off; API Gateway's body is not a problem", async () => {
  const client = new Stowage({ endpoint, token: 't', retry: { baseDelayMs: 100 } })
  server.answer({ status: 429, body: { message: 'Too Many Requests' } }, { status: 429, body: { message: 'Too Many Requests' } })
  await client.files.get('01KAQ3V6T0Z9Y8X7W6V5T4S3R2')
  assert.equal(server.arrivals.length, 3)
  const first = server.arrivals[1].at - server.arrivals[0].at
  const second = server.arrivals[2].at - server.arrivals[1].at
  assert.ok(first >= 95 && first < 450 && second >= 195 && second < 900, `backoff ${first.toFixed(0)} then ${second.toFixed(0)} ms`)
})

test('a Retry-After beyond maxDelayMs waits maxDelayMs; the attempts are bounded', async () => {
  const client = new Stowage({ endpoint, token: 't', retry: { attempts: 3, maxDelayMs: 200 } })
  const busy = { status: 503, headers: { 'retry-after': '3600' }, body: unavailable }
  server.answer(busy, busy, busy, busy)
  const started = performance.now()
  await assert.rejects(client.usage(), (err) => {
    assert.ok(err instanceof StowageError)
    assert.equal(err.status, 503)
    assert.equal(err.code, 'unavailable')
    assert.equal(err.detail, 'the store is throttling')
    return true
  })
  const took = performance.now() - started
  assert.equal(server.arrivals.length, 3)
  assert.ok(took >= 395 && took < 2500, `two capped waits took ${took.toFixed(0)} ms`)
})

test('other 4xx and 5xx answers are not retried', async () => {
  const client = new Stowage({ endpoint, token: 't' })
  for (const status of [400, 404, 409, 412, 500]) {
    server.answer({ status, body: { status, code: 'some_code', detail: `answered ${status}` } })
    await assert.rejects(client.files.update('01KAQ3V6T0Z9Y8X7W6V5T4S3R2', { purpose: 'x' }, { ifMatch: 3 }), (err) => err.status === status && err.code === 'some_code')
    assert.equal(server.arrivals.length, 1, `${status} was sent once`)
  }
})

test('an abort during the wait stops at once', async () => {
  const client = new Stowage({ endpoint, token: 't' })
  server.answer({ status: 503, headers: { 'retry-after': '20' }, body: unavailable })
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 100)
  const started = performance.now()
  await assert.rejects(client.usage({ signal: controller.signal }), (err) => err.name === 'AbortError')
  assert.ok(performance.now() - started < 1000)
  assert.equal(server.arrivals.length, 1)
})
