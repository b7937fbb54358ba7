// Collections, usage and limits through the SDK against a real stowage-local.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { StowageError, bytes, localWithClients } from './support.mjs'

const { client, admin } = await localWithClients()

test('an app creates, reads, changes (with If-Match) and deletes a collection', async () => {
  const created = await admin.collections.create({ name: 'avatars', allowedMimeTypes: ['image/*'], maxFileSize: 1000, requireSize: true })
  assert.equal(created.name, 'avatars')
  assert.deepEqual(created.allowedMimeTypes, ['image/*'])
  const names = (await client.collections.list()).map((c) => c.name)
  assert.ok(names.includes('default') && names.includes('avatars'), names.join())
  assert.equal((await client.collections.get('avatars')).maxFileSize, 1000)
  const changed = await admin.collections.update('avatars', { maxFileSize: 2000 }, { ifMatch: created.version })
  assert.equal(changed.maxFileSize, 2000)
  await assert.rejects(admin.collections.update('avatars', { maxFileSize: 3000 }, { ifMatch: created.version }), (err) => err.status === 412 && err.code === 'version_mismatch')
  // A member may read, not manage.
  await assert.rejects(client.collections.update('avatars', { maxFileSize: 1 }), (err) => err instanceof StowageError && err.status === 403)
  await assert.rejects(client.collections.get('nope'), (err) => err.status === 404 && err.code === 'collection_not_found')
  await admin.collections.delete('avatars', { ifMatch: changed.version })
  await assert.rejects(client.collections.get('avatars'), (err) => err.code === 'collection_not_found')
})

test("a collection's rules refuse an upload before any byte is sent", async () => {
  await admin.collections.create({ name: 'images', allowedMimeTypes: ['image/png'], maxFileSize: 100 })
  await assert.rejects(client.files.upload(bytes(10, 1), { name: 'a.pdf', mimeType: 'application/pdf', collection: 'images' }), (err) => err.status === 400 && err.code === 'mime_type_not_allowed')
  await assert.rejects(client.files.upload(bytes(200, 1), { name: 'a.png', mimeType: 'image/png', collection: 'images' }), (err) => err.status === 413 && err.code === 'file_too_large')
  await assert.rejects(client.files.upload(bytes(10, 1), { name: 'a.png', collection: 'nowhere' }), (err) => err.status === 404 && err.code === 'collection_not_found')
  const ok = await client.files.upload(bytes(50, 1), { name: 'a.png', collection: 'images' })
  assert.equal(ok.collection, 'images')
  assert.equal(ok.mimeType, 'image/png')
})

test('usage counts what is stored, by collection; an app sets the limits; a quota refuses', async () => {
  const before = await client.usage()
  await client.files.upload(bytes(1234, 2), { name: 'counted.bin', collection: 'default' })
  const after = await client.usage()
  assert.equal(after.files, before.files + 1)
  assert.equal(after.bytes, before.bytes + 1234)
  assert.equal(after.collections.default.bytes, (before.collections.default?.bytes ?? 0) + 1234)
  const limited = await admin.setLimits({ maxFiles: after.files })
  assert.equal(limited.limits.maxFiles, after.files)
  await assert.rejects(client.files.upload(bytes(10, 3), { name: 'one-too-many.bin' }), (err) => err.status === 409 && err.code === 'quota_exceeded')
  await assert.rejects(client.setLimits({ maxFiles: 0 }), (err) => err.status === 403)
  assert.equal((await admin.setLimits({ maxFiles: 0 })).limits.maxFiles, null)
})
