// subscribe() in Node 20 with the `ws` WebSocket against stowage-local's AppSync Events
// endpoint: every event of a file as it happens, once per eventId, and a reconnect (with
// `resumed`) after the server restarts under it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Stowage, WebSocket, bytes, localWithClients, waitFor } from './support.mjs'

const { client, local, token } = await localWithClients()

test('subscribe receives the events of an upload, each once, and resumes after a restart', async () => {
  const events = []
  const states = []
  const live = client.subscribe((event) => events.push(event), { onState: (state, detail) => states.push([state, detail?.resumed ?? null]) })
  try {
    await waitFor('the subscription to be live', () => states.some(([s]) => s === 'live'))
    const file = await client.files.upload(bytes(64, 1), { name: 'live.txt' })
    await waitFor('the uploaded event', () => events.some((e) => e.file.id === file.id && e.type === 'stowage.file.uploaded'), 10)
    const mine = events.filter((e) => e.file.id === file.id)
    assert.equal(mine[0].type, 'stowage.file.created')
    assert.equal(mine[0].file.status, 'pending')
    assert.equal(new Set(mine.map((e) => e.eventId)).size, mine.length, 'each event once')
    assert.equal(mine.at(-1).file.status, 'uploaded')
    assert.equal(mine.at(-1).actor, null)
    assert.deepEqual(states.slice(0, 2), [['connecting', null], ['live', false]])

    // The server goes away and comes back on the same address: the subscription follows.
    await local.restart()
    await waitFor('the subscription to be live again', () => states.some(([s, resumed]) => s === 'live' && resumed === true), 20)
    assert.ok(states.some(([s]) => s === 'disconnected'))
    const second = await client.files.upload(bytes(64, 2), { name: 'after-restart.txt' })
    await waitFor('an event after the restart', () => events.some((e) => e.file.id === second.id), 10)
  } finally {
    live.close()
  }
})

test("another tenant's subscriber receives nothing of this tenant", async () => {
  const other = new Stowage({ endpoint: local.endpoint, token: local.token('globex', 'mallory'), WebSocket })
  const seen = []
  const mine = []
  const live = new Set()
  const controller = new AbortController()
  try {
    other.subscribe((event) => seen.push(event), { signal: controller.signal, onState: (s) => s === 'live' && live.add('globex') })
    client.subscribe((event) => mine.push(event), { signal: controller.signal, onState: (s) => s === 'live' && live.add('acme') })
    await waitFor('both subscriptions to be live', () => live.size === 2)
    const file = await client.files.upload(bytes(16, 3), { name: 'private-to-acme.txt' })
    await client.files.update(file.id, { purpose: 'seen by acme' })
    await waitFor("acme's own subscriber to see the update", () => mine.some((e) => e.file.id === file.id && e.type === 'stowage.file.updated'), 10)
    assert.deepEqual(seen, [])
  } finally {
    controller.abort()
  }
})

test('without a WebSocket, subscribe says what to pass', () => {
  const bare = new Stowage({ endpoint: local.endpoint, token })
  if (globalThis.WebSocket) return assert.ok(bare.subscribe(() => {}).close() === undefined)
  assert.throws(() => bare.subscribe(() => {}), /pass one to new Stowage\(\{ WebSocket \}\)/)
})
