// Versions and the trash against a real stowage-local whose collections keep deleted files for
// 7 days (`--default-trash-days 7`): a delete into the trash, the trash listed and read (and
// unseen by getMany and links), a restore; permanent deletes (of live files and of the trash,
// one by one and in bulk); a collection that keeps versions (an app creates it): re-uploads
// kept, listed, an old one downloaded, restored and deleted; the API's 404s and 409s as
// StowageErrors with their codes; and the new events through subscribe.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { StowageError, localWithClients, readAll, recordingFetch, waitFor } from './support.mjs'

const recorder = recordingFetch()
const { client, admin } = await localWithClients({ args: ['--default-trash-days', '7'], fetch: recorder.fetch })
const text = (s) => new TextEncoder().encode(s)
const UNKNOWN = '01KAQ3V6T0Z9Y8X7W6V5T4S3R2'

async function listed(filters) {
  const ids = []
  for await (const file of client.files.list(filters)) ids.push(file.id)
  return ids
}

const isError = (status, code) => (err) => {
  assert.ok(err instanceof StowageError, String(err))
  assert.equal(err.status, status)
  assert.equal(err.code, code)
  return true
}

test('a delete moves the file to the trash: hidden, listed and read there, then restored', async () => {
  const file = await client.files.upload(text('keep me'), { name: 'trashed.txt', tags: ['bin'] })
  const other = await client.files.upload(text('not in the trash'), { name: 'live.txt', tags: ['bin'] })
  await client.files.delete(file.id)

  await assert.rejects(client.files.get(file.id), isError(404, 'not_found'))
  await assert.rejects(client.files.download(file.id), isError(404, 'not_found'))
  const trashed = await client.files.get(file.id, { trashed: true })
  assert.equal(trashed.id, file.id)
  assert.equal(trashed.expiresAt, null)
  assert.ok(trashed.trashedAt && trashed.purgeAt, JSON.stringify(trashed))
  const days = (Date.parse(trashed.purgeAt) - Date.parse(trashed.trashedAt)) / 86_400_000
  assert.ok(Math.abs(days - 7) < 0.01, `purged ${days} days after the delete`)
  // A live file is not in the trash.
  await assert.rejects(client.files.get(other.id, { trashed: true }), isError(404, 'not_found'))

  assert.deepEqual(await listed({ tag: ['bin'] }), [other.id])
  assert.deepEqual(await listed({ tag: ['bin'], trashed: true }), [file.id])
  assert.deepEqual(await listed({ tag: ['elsewhere'], trashed: true }), [], 'the other filters combine')
  // Many at once: a file in the trash reads as unknown.
  const many = await client.files.getMany([file.id, other.id])
  assert.deepEqual([many.items.map((f) => f.id), many.notFound], [[other.id], [file.id]])
  const links = await client.files.links([file.id, other.id])
  assert.deepEqual([links.items.map((l) => l.id), links.notFound, links.notUploaded], [[other.id], [file.id], []])
  const trashPage = recorder.requests.findLast((r) => r.method === 'GET' && new URL(r.url).pathname === '/files')
  assert.equal(new URL(trashPage.url).searchParams.get('trashed'), 'true')

  const restored = await client.files.restore(file.id)
  assert.equal(restored.id, file.id)
  assert.equal(restored.status, 'uploaded')
  assert.equal(restored.trashedAt, undefined)
  assert.equal(restored.purgeAt, undefined)
  assert.equal((await readAll(await client.files.download(file.id))).toString(), 'keep me')
  assert.deepEqual(new Set(await listed({ tag: ['bin'] })), new Set([file.id, other.id]))
  assert.deepEqual(await listed({ tag: ['bin'], trashed: true }), [])
  // Only a file in the trash comes back.
  await assert.rejects(client.files.restore(file.id), isError(409, 'not_trashed'))
  await assert.rejects(client.files.restore(UNKNOWN), isError(404, 'not_found'))
})

test('permanent deletes skip the trash, and delete what is in it; deleteMany keeps its call shapes', async () => {
  const gone = await client.files.upload(text('gone'), { name: 'gone.txt', tags: ['perm'] })
  recorder.requests.length = 0
  await client.files.delete(gone.id, { permanent: true, ifMatch: gone.version })
  const sent = recorder.requests.find((r) => r.method === 'DELETE')
  assert.equal(new URL(sent.url).searchParams.get('permanent'), 'true')
  assert.equal(sent.headers['if-match'], `"${gone.version}"`)
  await assert.rejects(client.files.get(gone.id, { trashed: true }), isError(404, 'not_found'))

  // Into the trash, then out of it for good.
  const twice = await client.files.upload(text('twice'), { name: 'twice.txt', tags: ['perm'] })
  await client.files.delete(twice.id, { ifMatch: twice.version })
  assert.equal((await client.files.get(twice.id, { trashed: true })).id, twice.id)
  await client.files.delete(twice.id, { permanent: true })
  await assert.rejects(client.files.get(twice.id, { trashed: true }), isError(404, 'not_found'))
  await assert.rejects(client.files.restore(twice.id), isError(404, 'not_found'))

  // In bulk: by ids into the trash, then by ids for good, then emptying the trash by a filter.
  const made = []
  for (let i = 0; i < 4; i++) made.push((await client.files.upload(text(`bulk ${i}`), { name: `bulk-${i}.txt`, tags: ['bulk'] })).id)
  const [a, b, c, d] = made
  assert.deepEqual(await client.files.deleteMany([a, b, UNKNOWN]), { deleted: [a, b], notFound: [UNKNOWN] })
  assert.deepEqual(new Set(await listed({ tag: ['bulk'], trashed: true })), new Set([a, b]))
  assert.deepEqual(await client.files.deleteMany([c], { permanent: true }), { deleted: [c], notFound: [] })
  assert.deepEqual(new Set(await listed({ tag: ['bulk'], trashed: true })), new Set([a, b]), 'c skipped the trash')
  const byFilter = await client.files.deleteMany({ filter: { tag: 'bulk' } })
  assert.deepEqual(byFilter.deleted, [d])
  const emptied = await client.files.deleteMany({ filter: { tag: 'bulk', trashed: true } }, { permanent: true })
  assert.deepEqual(new Set(emptied.deleted), new Set([a, b, d]))
  assert.deepEqual(await listed({ tag: ['bulk'], trashed: true }), [])
  assert.deepEqual(await listed({ tag: ['bulk'] }), [])
})

test('a collection with versions keeps re-uploads: listed, an old one downloaded, restored and deleted', async () => {
  const docs = await admin.collections.create({ name: 'docs', versions: 5, trashDays: 0 })
  assert.equal(docs.versions, 5)
  assert.equal(docs.trashDays, 0)
  const file = await client.files.upload(text('one'), { name: 'doc.txt', collection: 'docs' })
  await client.files.reupload(file.id, text('two!'))
  await client.files.reupload(file.id, text('three'))

  const versions = await client.files.versions(file.id)
  assert.equal(versions.length, 3)
  assert.deepEqual(versions.map((v) => v.current), [true, false, false])
  assert.deepEqual(versions.map((v) => v.size), [5, 4, 3], 'current first, then newest first')
  const numbers = versions.map((v) => v.version)
  assert.deepEqual(numbers, [...numbers].sort((x, y) => y - x))
  for (const v of versions) {
    assert.equal(v.mimeType, 'text/plain')
    assert.equal(v.uploadedBy, 'alice')
    assert.ok(v.checksumSha256 === null || typeof v.checksumSha256 === 'string')
    assert.ok(!Number.isNaN(Date.parse(v.uploadedAt)))
  }
  const [current, second, first] = numbers
  assert.equal((await readAll(await client.files.downloadVersion(file.id, first))).toString(), 'one')
  assert.equal((await readAll(await client.files.downloadVersion(file.id, second))).toString(), 'two!')
  assert.equal((await readAll(await client.files.downloadVersion(file.id, current))).toString(), 'three')

  // The first content back: a copy becomes the current one, and the replaced one is kept.
  const restored = await client.files.restoreVersion(file.id, first)
  assert.equal(restored.id, file.id)
  assert.equal(restored.size, 3)
  assert.equal((await readAll(await client.files.download(file.id))).toString(), 'one')
  const after = await client.files.versions(file.id)
  assert.equal(after.length, 4)
  assert.ok(after[0].current && after[0].version > current, JSON.stringify(after[0]))
  assert.deepEqual(after.slice(1).map((v) => v.version), [current, second, first])

  await client.files.deleteVersion(file.id, second)
  assert.deepEqual((await client.files.versions(file.id)).map((v) => v.version), [after[0].version, current, first])
  await assert.rejects(client.files.downloadVersion(file.id, second), isError(404, 'version_not_found'))

  // The current version can be neither restored nor deleted; unknown ones and files are 404s.
  await assert.rejects(client.files.restoreVersion(file.id, after[0].version), isError(409, 'current_version'))
  await assert.rejects(client.files.deleteVersion(file.id, after[0].version), isError(409, 'current_version'))
  await assert.rejects(client.files.restoreVersion(file.id, 999), isError(404, 'version_not_found'))
  await assert.rejects(client.files.deleteVersion(file.id, 999), isError(404, 'version_not_found'))
  await assert.rejects(client.files.versions(UNKNOWN), isError(404, 'not_found'))

  // trashDays 0: this collection's deletes are immediate.
  await client.files.delete(file.id)
  await assert.rejects(client.files.get(file.id, { trashed: true }), isError(404, 'not_found'))
})

test('subscribe sees a file trashed, restored, and its version restored', async () => {
  await admin.collections.create({ name: 'kept', versions: 2 })
  const events = []
  const states = []
  const live = client.subscribe((event) => events.push(event), { onState: (state) => states.push(state) })
  try {
    await waitFor('the subscription to be live', () => states.includes('live'))
    const file = await client.files.upload(text('v1'), { name: 'evented.txt', collection: 'kept' })
    await client.files.reupload(file.id, text('v2'))
    const [, old] = await client.files.versions(file.id)
    await client.files.restoreVersion(file.id, old.version)
    await client.files.delete(file.id)
    await client.files.restore(file.id)
    const types = () => events.filter((e) => e.file.id === file.id).map((e) => e.type)
    await waitFor('the restored event', () => types().includes('stowage.file.restored'), 10)
    for (const type of ['stowage.file.version_restored', 'stowage.file.trashed', 'stowage.file.restored']) assert.ok(types().includes(type), `${type} in ${types()}`)
  } finally {
    live.close()
  }
})
