// A path's parts are read into buffers reused once a part is sent (src/source.ts): an upload
// holds `parallel` part buffers whatever the file's size. Here without a server: the Source alone.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openSource } from '../dist/source.js'

test('a path source reuses a released part buffer, and only its own, and reads the right bytes into it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stowage-source-'))
  const bytes = randomBytes(3 * 1024 * 1024 + 5)
  const path = join(dir, 'file.bin')
  writeFileSync(path, bytes)
  const source = await openSource(path)
  try {
    const MiB = 1024 * 1024
    const first = await source.read(0, MiB)
    const second = await source.read(MiB, 2 * MiB)
    assert.notEqual(first.buffer, second.buffer, 'two parts in flight, two buffers')
    assert.deepEqual(Buffer.from(first), bytes.subarray(0, MiB))

    source.release(first)
    source.release(first) // twice: still one free buffer, not two
    source.release(new Uint8Array(MiB)) // not the source's: ignored
    const third = await source.read(2 * MiB, 3 * MiB)
    assert.equal(third.buffer, first.buffer, 'the released buffer holds the next part')
    assert.deepEqual(Buffer.from(third), bytes.subarray(2 * MiB, 3 * MiB))
    const fourth = await source.read(3 * MiB, 3 * MiB + 5)
    assert.notEqual(fourth.buffer, first.buffer, 'released once, reused once')
    assert.notEqual(fourth.buffer, second.buffer, 'a part still in flight is not reused')
    assert.deepEqual(Buffer.from(fourth), bytes.subarray(3 * MiB))
  } finally {
    await source.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
