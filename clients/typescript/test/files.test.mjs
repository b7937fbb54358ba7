// The file operations against a real stowage-local (5 MiB multipart threshold): uploads of
// every kind of data, small and multipart, downloaded back identical; exactly the headers the
// presigned URL binds; progress; listing across pages with a filter; updates with If-Match;
// replace, delete, bulk delete; grants; records and download links of many files at once;
// copies; and the API's errors as StowageError.
import assert from 'node:assert/strict'
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, test } from 'node:test'
import { MIB, StowageError, bytes, isPartPut, localWithClients, readAll, recordingFetch } from './support.mjs'

const recorder = recordingFetch()
const { client, admin, local } = await localWithClients({
  env: { STOWAGE_MULTIPART_THRESHOLD: String(5 * MIB) },
  fetch: recorder.fetch,
})
const scratch = mkdtempSync(join(tmpdir(), 'stowage-sdk-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

async function downloaded(id) {
  return readAll(await client.files.download(id))
}

test('a small upload sends exactly the headers the URL binds, and downloads back identical', async () => {
  const data = bytes(100 * 1024, 1)
  recorder.requests.length = 0
  const seen = []
  const file = await client.files.upload(data, { name: 'small.txt', mimeType: 'text/plain', tags: ['sdk'] }, { onProgress: (p) => seen.push(p) })
  assert.equal(file.status, 'uploaded')
  assert.equal(file.size, data.length)
  assert.deepEqual(file.tags, ['sdk'])
  const create = recorder.requests.find((r) => r.method === 'POST' && r.url.endsWith('/files'))
  assert.equal(JSON.parse(create.bodyText).size, data.length)
  const puts = recorder.requests.filter((r) => r.method === 'PUT')
  assert.equal(puts.length, 1, 'one PUT')
  // The create answer said which headers the URL binds: exactly those went with the PUT.
  assert.deepEqual(puts[0].headers, { 'content-type': 'text/plain', 'if-none-match': '*' })
  assert.deepEqual(seen.at(-1), { loaded: data.length, total: data.length })
  assert.ok((await downloaded(file.id)).equals(data))
})

test('a multipart upload goes up in parallel parts with progress, and downloads back identical', async () => {
  const size = 17 * MIB + 3
  const data = bytes(size, 2)
  recorder.requests.length = 0
  const seen = []
  let created = null
  const file = await client.files.upload(new Blob([data]), { name: 'big.bin', purpose: 'test' }, {
    parallel: 3,
    onProgress: (p) => seen.push(p.loaded),
    onCreated: (f) => (created = f),
  })
  assert.equal(created.id, file.id)
  assert.equal(created.status, 'pending')
  assert.equal(file.status, 'uploaded')
  assert.equal(file.size, size)
  assert.equal(file.mimeType, 'application/octet-stream')
  const parts = recorder.requests.filter(isPartPut)
  assert.equal(parts.length, 3, 'three parts of the server default 8 MiB')
  assert.ok(parts.every((p) => p.status === 200))
  // Progress only grows, and ends at the whole size.
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b))
  assert.equal(seen.at(-1), size)
  assert.ok(seen.length >= 4)
  assert.ok((await downloaded(file.id)).equals(data))
})

test('a path, a Node stream and an ArrayBuffer upload too (multipart for the path)', async () => {
  const path = join(scratch, 'notes.txt')
  const data = bytes(11 * MIB, 3)
  writeFileSync(path, data)
  const fromPath = await client.files.upload(path, {}, { partSize: 5 * MIB })
  assert.equal(fromPath.name, 'notes.txt')
  assert.equal(fromPath.mimeType, 'text/plain')
  assert.ok((await downloaded(fromPath.id)).equals(data))

  recorder.requests.length = 0
  const fromStream = await client.files.upload(createReadStream(path), { name: 'streamed.bin', size: data.length }, { partSize: 5 * MIB, parallel: 2 })
  assert.equal(recorder.requests.filter(isPartPut).length, 3)
  assert.ok((await downloaded(fromStream.id)).equals(data))

  const small = Readable.from([Buffer.from('hello '), Buffer.from('stream')])
  const unsized = await client.files.upload(small, { name: 'hello.txt' })
  assert.equal((await downloaded(unsized.id)).toString(), 'hello stream')

  const buffer = new TextEncoder().encode('from an ArrayBuffer').buffer
  const fromBuffer = await client.files.upload(buffer, { name: 'ab.txt', mimeType: 'text/plain' })
  assert.equal((await downloaded(fromBuffer.id)).toString(), 'from an ArrayBuffer')
})

test('list iterates every record of every page that matches a filter', async () => {
  const made = []
  for (let i = 0; i < 7; i++) made.push((await client.files.upload(bytes(10, i), { name: `page-${i}.txt`, tags: ['paged'] }, { wait: false })).id)
  await client.files.upload(bytes(10, 99), { name: 'other.txt', tags: ['not-paged'] }, { wait: false })
  recorder.requests.length = 0
  const listed = []
  for await (const file of client.files.list({ tag: ['paged'], limit: 2 })) listed.push(file.id)
  assert.deepEqual(new Set(listed), new Set(made))
  assert.equal(listed.length, 7, 'each record once')
  const pages = recorder.requests.filter((r) => r.method === 'GET' && new URL(r.url).pathname === '/files')
  assert.ok(pages.length >= 4, `${pages.length} pages of 2`)
  assert.ok(pages.every((r) => new URL(r.url).searchParams.get('tag') === 'paged'))
  const page = await client.files.page({ tag: ['paged'], limit: 3 })
  assert.equal(page.items.length, 3)
  assert.equal(typeof page.nextCursor, 'string')
})

test('update with a stale If-Match is a 412 StowageError; with the current one it applies', async () => {
  const file = await client.files.upload(bytes(5, 5), { name: 'conflict.txt' })
  const changed = await client.files.update(file.id, { purpose: 'first' }, { ifMatch: file.version })
  assert.equal(changed.purpose, 'first')
  assert.equal(changed.version, file.version + 1)
  await assert.rejects(client.files.update(file.id, { purpose: 'stale' }, { ifMatch: file.version }), (err) => {
    assert.ok(err instanceof StowageError)
    assert.equal(err.status, 412)
    assert.equal(err.code, 'version_mismatch')
    assert.equal(err.method, 'PATCH')
    assert.ok(err.detail.length > 0)
    return true
  })
  assert.equal((await client.files.get(file.id)).purpose, 'first')
  const replaced = await client.files.replace(file.id, { name: 'replaced.txt', mimeType: 'text/plain' }, { ifMatch: `"${changed.version}"` })
  assert.equal(replaced.name, 'replaced.txt')
  assert.equal(replaced.purpose, null)
})

test('a 404 and a 400 are StowageErrors with their codes, and are not retried', async () => {
  recorder.requests.length = 0
  await assert.rejects(client.files.get('01KAQ3V6T0Z9Y8X7W6V5T4S3R2'), (err) => err instanceof StowageError && err.status === 404 && err.code === 'not_found')
  await assert.rejects(client.files.get('not-an-id'), (err) => err instanceof StowageError && err.status === 400 && err.code === 'invalid_id')
  await assert.rejects(client.files.create({ name: 'a/b', mimeType: 'text/plain' }), (err) => {
    assert.equal(err.status, 400)
    assert.equal(err.code, 'validation_failed')
    assert.equal(err.errors[0].field, 'name')
    return true
  })
  assert.equal(recorder.requests.length, 3, 'one request each')
})

test('delete, deleteMany by ids and by filter', async () => {
  const a = await client.files.upload(bytes(3, 1), { name: 'a.txt', tags: ['doomed'] }, { wait: false })
  const b = await client.files.upload(bytes(3, 2), { name: 'b.txt', tags: ['doomed'] }, { wait: false })
  const c = await client.files.upload(bytes(3, 3), { name: 'c.txt', tags: ['doomed'] }, { wait: false })
  const d = await client.files.upload(bytes(3, 4), { name: 'd.txt' }, { wait: false })
  await assert.rejects(client.files.delete(d.id, { ifMatch: 99 }), (err) => err.status === 412)
  await client.files.delete(d.id, { ifMatch: (await client.files.get(d.id)).version })
  await assert.rejects(client.files.get(d.id), (err) => err.status === 404)
  const byIds = await client.files.deleteMany([a.id, '01KAQ3V6T0Z9Y8X7W6V5T4S3R2'])
  assert.deepEqual(byIds, { deleted: [a.id], notFound: ['01KAQ3V6T0Z9Y8X7W6V5T4S3R2'] })
  const byFilter = await client.files.deleteMany({ filter: { tag: 'doomed' } })
  assert.deepEqual(new Set(byFilter.deleted), new Set([b.id, c.id]))
  const left = []
  for await (const f of client.files.list({ tag: ['doomed'] })) left.push(f)
  assert.equal(left.length, 0)
})

test('updateMany by ids and by filter', async () => {
  const a = await client.files.upload(bytes(3, 1), { name: 'm1.txt', tags: ['batch'] }, { wait: false })
  const b = await client.files.upload(bytes(3, 2), { name: 'm2.txt', tags: ['batch'] }, { wait: false })
  const items = await client.files.updateMany([{ id: a.id, purpose: 'one' }, { id: b.id, purpose: 'two' }])
  assert.deepEqual(items.map((f) => f.purpose), ['one', 'two'])
  const all = await client.files.updateMany({ filter: { tag: 'batch' }, patch: { purpose: 'both' } })
  assert.equal(all.length, 2)
  assert.ok(all.every((f) => f.purpose === 'both'))
})

test('grants: share, read as the grantee, unshare', async () => {
  await admin.collections.create({ name: 'private', access: { read: [], write: ['tenant'], delete: [] }, fileSecurity: true })
  const file = await client.files.upload(bytes(20, 7), { name: 'secret.txt', collection: 'private' })
  const { Stowage } = await import('./support.mjs')
  const bob = new Stowage({ endpoint: local.endpoint, token: local.token('acme', 'bob') })
  await assert.rejects(bob.files.get(file.id), (err) => err.status === 404)
  const shared = await client.files.share(file.id, 'user:bob', 'reader')
  assert.deepEqual(shared.grants, [{ principal: 'user:bob', role: 'reader' }])
  assert.equal((await bob.files.get(file.id)).id, file.id)
  assert.deepEqual(await client.files.grants(file.id), [{ principal: 'user:bob', role: 'reader' }])
  await assert.rejects(bob.files.share(file.id, 'user:bob', 'writer'), (err) => err.status === 403 && err.code === 'forbidden')
  const writer = await client.files.share(file.id, 'user:bob', 'writer')
  assert.deepEqual(writer.grants, [{ principal: 'user:bob', role: 'writer' }])
  const none = await client.files.unshare(file.id, 'user:bob')
  assert.deepEqual(none.grants, [])
  await assert.rejects(bob.files.get(file.id), (err) => err.status === 404)
})

test('a re-upload replaces the bytes, and a download URL can be a share link', async () => {
  const file = await client.files.upload(new TextEncoder().encode('version one'), { name: 'v.txt' })
  const again = await client.files.reupload(file.id, new TextEncoder().encode('version two!'))
  assert.equal(again.size, 12)
  assert.equal((await downloaded(file.id)).toString(), 'version two!')
  const url = await client.files.downloadUrl(file.id, { expiresIn: 60, disposition: 'inline' })
  assert.match(url, /X-Amz-Expires=60/)
  assert.equal(await (await fetch(url)).text(), 'version two!')
})

test('getMany: the records in the order asked, a repeat once, the unknown in notFound', async () => {
  const unknown = '01KAQ3V6T0Z9Y8X7W6V5T4S3R2'
  const a = await client.files.upload(bytes(4, 1), { name: 'many-a.txt' })
  const b = await client.files.upload(bytes(4, 2), { name: 'many-b.txt' })
  const { file: pending } = await client.files.create({ name: 'many-pending.txt', mimeType: 'text/plain', size: 4 })
  recorder.requests.length = 0
  const many = await client.files.getMany([b.id, unknown, a.id, pending.id, b.id])
  assert.deepEqual(many.items.map((f) => f.id), [b.id, a.id, pending.id])
  assert.deepEqual(many.items.map((f) => f.name), ['many-b.txt', 'many-a.txt', 'many-pending.txt'])
  assert.equal(many.items[2].status, 'pending')
  assert.deepEqual(many.notFound, [unknown])
  assert.equal(recorder.requests.length, 1, 'one call')
  const [sent] = recorder.requests
  assert.equal(sent.method, 'POST')
  assert.equal(new URL(sent.url).pathname, '/files/get')
  assert.deepEqual(JSON.parse(sent.bodyText), { ids: [b.id, unknown, a.id, pending.id, b.id] })
  // A file in the trash, expired or out of reach reads as unknown: here, one deleted.
  await client.files.delete(a.id)
  const left = await client.files.getMany([a.id, b.id])
  assert.deepEqual(left.items.map((f) => f.id), [b.id])
  assert.deepEqual(left.notFound, [a.id])
})

test('links: presigned URLs in the order asked, unknown ids in notFound, pending files in notUploaded', async () => {
  const unknown = '01KAQ3V6T0Z9Y8X7W6V5T4S3R2'
  const a = await client.files.upload(new TextEncoder().encode('the first link'), { name: 'link-a.txt', mimeType: 'text/plain' })
  const b = await client.files.upload(new TextEncoder().encode('the second link'), { name: 'link-b.txt', mimeType: 'text/plain' })
  const { file: pending } = await client.files.create({ name: 'link-pending.txt', mimeType: 'text/plain', size: 4 })
  recorder.requests.length = 0
  const links = await client.files.links([b.id, pending.id, unknown, a.id], { expiresIn: 60, disposition: 'inline' })
  assert.deepEqual(links.items.map((l) => l.id), [b.id, a.id])
  assert.deepEqual(links.notFound, [unknown])
  assert.deepEqual(links.notUploaded, [pending.id])
  const [sent] = recorder.requests
  const url = new URL(sent.url)
  assert.equal(url.pathname, '/files/links')
  assert.equal(url.searchParams.get('expiresIn'), '60')
  assert.equal(url.searchParams.get('disposition'), 'inline')
  assert.deepEqual(JSON.parse(sent.bodyText), { ids: [b.id, pending.id, unknown, a.id] })
  for (const link of links.items) assert.match(link.url, /X-Amz-Expires=60/)
  // Each link is the credential: fetched without the token, it is the file's bytes.
  assert.equal(await (await fetch(links.items[0].url)).text(), 'the second link')
  assert.equal(await (await fetch(links.items[1].url)).text(), 'the first link')
  // Without options: no query, the deployment's lifetime.
  recorder.requests.length = 0
  const plain = await client.files.links([a.id])
  assert.deepEqual(plain.items.map((l) => l.id), [a.id])
  assert.equal(new URL(recorder.requests[0].url).search, '')
})

test('getMany and links refuse more than 100 ids, or a bad one, as a 400 validation_failed', async () => {
  const ids = Array.from({ length: 101 }, (_, i) => `01KAQ3V6T0Z9Y8X7W6V5T4S${String(i).padStart(3, '0')}`)
  const refused = (field) => (err) => {
    assert.ok(err instanceof StowageError, String(err))
    assert.equal(err.status, 400)
    assert.equal(err.code, 'validation_failed')
    assert.equal(err.errors[0].field, field)
    return true
  }
  recorder.requests.length = 0
  await assert.rejects(client.files.getMany(ids), refused('ids'))
  await assert.rejects(client.files.links(ids), refused('ids'))
  await assert.rejects(client.files.getMany([]), refused('ids'))
  await assert.rejects(client.files.links([ids[0], 'not-an-id']), refused('ids[1]'))
  assert.equal(recorder.requests.length, 4, 'one request each, none retried')
  // 100 is the most, and fine.
  const hundred = await client.files.getMany(ids.slice(0, 100))
  assert.deepEqual(hundred, { items: [], notFound: ids.slice(0, 100) })
})

test('copy: beside the source, renamed into another collection, and a pending source is a 409 not_uploaded', async () => {
  const text = 'the bytes to copy'
  const source = await client.files.upload(new TextEncoder().encode(text), {
    name: 'original.txt',
    mimeType: 'text/plain',
    tags: ['copied'],
    directory: '/docs',
    externalId: 'copy-source-1',
  })
  recorder.requests.length = 0
  const beside = await client.files.copy(source.id)
  assert.equal(recorder.requests.length, 1, 'one call')
  const [sent] = recorder.requests
  assert.equal(sent.method, 'POST')
  assert.equal(new URL(sent.url).pathname, `/files/${source.id}/copy`)
  assert.deepEqual(JSON.parse(sent.bodyText), {})
  assert.notEqual(beside.id, source.id)
  assert.equal(beside.status, 'uploaded')
  assert.deepEqual(
    [beside.collection, beside.name, beside.directory, beside.mimeType, beside.size, beside.tags],
    [source.collection, 'original.txt', '/docs', 'text/plain', text.length, ['copied']],
  )
  assert.equal(beside.externalId, null, 'not the source externalId')
  assert.equal(beside.uploadedBy, 'alice')
  assert.equal((await downloaded(beside.id)).toString(), text)

  // Into a collection an app made, under another name and directory.
  await admin.collections.create({ name: 'copies', allowedMimeTypes: ['text/*'] })
  recorder.requests.length = 0
  const moved = await client.files.copy(source.id, { collection: 'copies', name: 'renamed.txt', directory: '/archive' })
  assert.deepEqual(JSON.parse(recorder.requests[0].bodyText), { collection: 'copies', name: 'renamed.txt', directory: '/archive' })
  assert.deepEqual([moved.collection, moved.name, moved.directory, moved.status], ['copies', 'renamed.txt', '/archive', 'uploaded'])
  assert.equal((await downloaded(moved.id)).toString(), text)
  assert.equal((await client.files.get(source.id)).name, 'original.txt', 'the source is untouched')
  // The caller owns the copy: here the app.
  const appCopy = await admin.files.copy(source.id, { name: 'the-apps.txt' })
  assert.equal(appCopy.uploadedBy, 'acme-app')

  // The target's rules apply: `copies` takes only text.
  const binary = await client.files.upload(bytes(8, 3), { name: 'blob.bin', mimeType: 'application/octet-stream' })
  await assert.rejects(client.files.copy(binary.id, { collection: 'copies' }), (err) => err instanceof StowageError && err.status === 400 && err.code === 'mime_type_not_allowed')

  // A source without content: refused, not retried.
  const { file: pending } = await client.files.create({ name: 'pending.txt', mimeType: 'text/plain', size: 4 })
  recorder.requests.length = 0
  await assert.rejects(client.files.copy(pending.id, { name: 'never.txt' }), (err) => {
    assert.ok(err instanceof StowageError, String(err))
    assert.equal(err.status, 409)
    assert.equal(err.code, 'not_uploaded')
    assert.equal(err.method, 'POST')
    assert.equal(err.path, `/files/${pending.id}/copy`)
    return true
  })
  assert.equal(recorder.requests.length, 1, 'one request')
})

test('list: a name search and the name order within a folder', async () => {
  const folder = `/sdk-search-${Math.random().toString(36).slice(2, 8)}`
  const made = []
  for (const name of ['Zeta Report.pdf', 'alpha report.txt', 'Éclair notes.md']) {
    made.push((await client.files.create({ name, mimeType: 'text/plain', size: 1, directory: folder })).file)
  }
  const found = []
  for await (const f of client.files.list({ q: 'REPORT', directory: folder })) found.push(f.name)
  assert.deepEqual(found, ['alpha report.txt', 'Zeta Report.pdf'])
  const byName = []
  for await (const f of client.files.list({ directory: folder, sort: 'name', limit: 1 })) byName.push(f.name)
  assert.deepEqual(byName, ['alpha report.txt', 'Éclair notes.md', 'Zeta Report.pdf'])
  const oldest = []
  for await (const f of client.files.list({ directory: folder, sort: 'createdAt' })) oldest.push(f.id)
  assert.deepEqual(oldest, made.map((f) => f.id))
  await assert.rejects(client.files.list({ sort: 'name' }).next(), (err) => err.status === 400 && err.code === 'validation_failed')
})

test('folders: list, create, move a folder with its files, and delete an empty one', async () => {
  const top = `/sdk-folders-${Math.random().toString(36).slice(2, 8)}`
  const a = (await client.files.create({ name: 'a.txt', mimeType: 'text/plain', size: 1, directory: `${top}/src/x` })).file
  await client.files.create({ name: 'b.txt', mimeType: 'text/plain', size: 1, directory: `${top}/src` })
  assert.deepEqual(await client.folders.create(`${top}/empty`), { path: `${top}/empty`, name: 'empty' })
  assert.deepEqual((await client.folders.list(top, { limit: 1 })).map((f) => f.name), ['empty', 'src'])
  assert.deepEqual(await client.folders.move(`${top}/src`, `${top}/dst`), { moved: 2, skipped: 0 })
  assert.deepEqual((await client.folders.list(top)).map((f) => f.path), [`${top}/dst`, `${top}/empty`])
  assert.equal((await client.files.get(a.id)).directory, `${top}/dst/x`)
  await assert.rejects(client.folders.delete(`${top}/dst`), (err) => err.status === 409 && err.code === 'folder_not_empty')
  await assert.rejects(client.folders.delete(`${top}/never`), (err) => err.status === 404 && err.code === 'folder_not_found')
  await client.folders.delete(`${top}/empty`)
  assert.deepEqual((await client.folders.list(top)).map((f) => f.name), ['dst'])
})
