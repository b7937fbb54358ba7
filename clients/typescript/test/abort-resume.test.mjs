// Uploads cut short: an aborted upload is abandoned through the API and leaves no parts; a
// crashed one (a process killed between parts) is finished from its file id, sending and
// signing only the parts the server does not hold.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, test } from 'node:test'
import { HERE, MIB, StowageError, bytes, isPartPut, localWithClients, partNumberOf, readAll, recordingFetch, waitFor } from './support.mjs'

const recorder = recordingFetch({
  // Parts take a while, so an abort finds some landed and some in flight.
  before: async (r) => isPartPut(r) && new Promise((ok) => setTimeout(ok, 150)),
})
const { client, local, token } = await localWithClients({ fetch: recorder.fetch })
const scratch = mkdtempSync(join(tmpdir(), 'stowage-sdk-resume-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

/** Open multipart uploads in the embedded endpoint's layout (objects/.stowage/uploads/<upload>/). */
function openUploads() {
  const dir = join(local.dataDir, 'objects', '.stowage', 'uploads')
  return existsSync(dir) ? readdirSync(dir) : []
}

test('an aborted multipart upload is abandoned through the API and leaves no parts', async () => {
  const controller = new AbortController()
  let id = null
  const landed = []
  let openBeforeAbort = null
  recorder.requests.length = 0
  const upload = client.files.upload(bytes(40 * MIB, 1), { name: 'aborted.bin' }, {
    partSize: 5 * MIB,
    parallel: 2,
    signal: controller.signal,
    onCreated: (file) => (id = file.id),
    onProgress: (p) => {
      landed.push(p.loaded)
      if (p.loaded >= 10 * MIB && !controller.signal.aborted) {
        openBeforeAbort = openUploads()
        controller.abort()
      }
    },
  })
  await assert.rejects(upload, (err) => err.name === 'AbortError')
  assert.ok(landed.at(-1) >= 10 * MIB && landed.at(-1) < 40 * MIB, `aborted part-way: ${landed}`)
  const sent = recorder.requests.filter(isPartPut).length
  assert.ok(sent < 8, `stopped sending parts: ${sent} of 8`)
  assert.ok(recorder.requests.some((r) => r.method === 'DELETE' && r.url.endsWith(`/files/${id}/upload`)), 'abandoned through the API')
  const record = await client.files.get(id)
  assert.equal(record.status, 'failed')
  await assert.rejects(client.uploads.parts(id), (err) => err instanceof StowageError && err.status === 409)
  assert.equal(openBeforeAbort.length, 1, 'the upload was in storage before the abort')
  await waitFor('no multipart upload to be left in storage', () => openUploads().length === 0, 5)
})

test('a crashed multipart upload resumes from its id, signing and sending only the missing parts', async () => {
  const partSize = 5 * MIB
  const size = 6 * partSize + 123
  const data = bytes(size, 2)
  const path = join(scratch, 'crash.bin')
  writeFileSync(path, data)

  // The first attempt: a process of its own, killed once two parts have landed.
  const child = spawn(process.execPath, [join(HERE, 'fixtures/crash-upload.mjs'), local.endpoint, token, path, String(partSize)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let id = null
  let killedAt = null
  for await (const line of createInterface({ input: child.stdout })) {
    const event = JSON.parse(line)
    if (event.created) id = event.created
    if (event.loaded >= 2 * partSize && killedAt === null) {
      killedAt = event.loaded
      child.kill('SIGKILL')
    }
    assert.ok(!event.done, 'the first attempt was to be killed before it finished')
  }
  assert.ok(id && killedAt, 'the first attempt created the file and sent two parts')
  const held = await client.uploads.parts(id)
  assert.ok(held.length >= 2 && held.length < 7, `${held.length} of 7 parts held after the crash`)
  assert.equal((await client.files.get(id)).status, 'pending')

  recorder.requests.length = 0
  const progress = []
  const file = await client.files.upload(path, {}, { resumeId: id, parallel: 2, onProgress: (p) => progress.push(p.loaded) })
  assert.equal(file.status, 'uploaded')
  assert.equal(file.size, size)
  const heldNumbers = new Set(held.map((p) => p.partNumber))
  const missing = [1, 2, 3, 4, 5, 6, 7].filter((n) => !heldNumbers.has(n))
  const sent = recorder.requests.filter(isPartPut).map(partNumberOf).sort((a, b) => a - b)
  assert.deepEqual(sent, missing, 'only the missing parts were sent')
  const signed = recorder.requests
    .filter((r) => r.method === 'POST' && r.url.endsWith(`/files/${id}/upload/parts`))
    .flatMap((r) => JSON.parse(r.bodyText).partNumbers)
    .sort((a, b) => a - b)
  assert.deepEqual(signed, missing, 'only the missing parts were signed')
  assert.equal(progress[0], size - missing.reduce((sum, n) => sum + (n === 7 ? 123 : partSize), 0), 'progress starts at what was held')
  assert.equal(progress.at(-1), size)
  assert.ok((await readAll(await client.files.download(id))).equals(data))

  // Resuming a finished upload gives its record back and sends nothing.
  recorder.requests.length = 0
  assert.equal((await client.files.upload(path, {}, { resumeId: id })).status, 'uploaded')
  assert.equal(recorder.requests.filter(isPartPut).length, 0)
})

test('resuming with data of another size is refused before anything is sent', async () => {
  const created = await client.files.create({ name: 'x.bin', mimeType: 'application/octet-stream', size: 12 * MIB, multipart: true })
  recorder.requests.length = 0
  await assert.rejects(client.files.upload(bytes(MIB, 3), {}, { resumeId: created.file.id }), /expects/)
  assert.equal(recorder.requests.filter((r) => r.method !== 'GET').length, 0)
})
