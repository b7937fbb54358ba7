// The SDK's browser build in a page: the test calls `window.run(endpoint, token)`, which
// subscribes, uploads a small and a multipart Blob, downloads both back, re-uploads a file of
// a collection that keeps versions and downloads its old version, and waits for the
// `uploaded` events; each step is written on the page (the screenshots show it).
import { Stowage } from '../../dist/index.js'

const log = document.querySelector('#log')
const say = (text) => log.append(Object.assign(document.createElement('li'), { textContent: text }))

/** Deterministic bytes (the test regenerates them in Node to compare). */
function bytes(size, seed) {
  const data = new Uint8Array(size)
  for (let i = 0; i < size; i++) data[i] = ((Math.floor(i / 1013) * 31 + seed) ^ (i % 251)) & 0xff
  return data
}

async function readAll(stream) {
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

function same(a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

window.run = async (endpoint, token, bigSize) => {
  const stowage = new Stowage({ endpoint, token: () => token })
  const events = []
  const states = []
  const live = stowage.subscribe((event) => events.push(event), { onState: (state) => states.push(state) })
  const waitFor = async (what, check) => {
    for (let i = 0; i < 200; i++) {
      if (check()) return
      await new Promise((ok) => setTimeout(ok, 50))
    }
    throw new Error(`timed out waiting for ${what}`)
  }
  try {
    await waitFor('the subscription to be live', () => states.includes('live'))
    say('subscribed: live')
    const smallData = bytes(100 * 1024, 11)
    const small = await stowage.files.upload(new Blob([smallData], { type: 'text/plain' }), { name: 'small.txt', tags: ['browser'] })
    say(`small.txt: ${small.status}, ${small.size} bytes`)
    const bigData = bytes(bigSize, 12)
    const progress = []
    const big = await stowage.files.upload(new File([bigData], 'big.bin'), {}, { onProgress: (p) => progress.push(p.loaded), parallel: 2 })
    say(`big.bin: ${big.status}, ${big.size} bytes, progress ${progress.map((n) => Math.round((100 * n) / bigSize)).join(' → ')} %`)
    const smallBack = await readAll(await stowage.files.download(small.id))
    const bigBack = await readAll(await stowage.files.download(big.id))
    say(`downloaded back: small ${same(smallBack, smallData) ? 'identical' : 'DIFFERENT'}, big ${same(bigBack, bigData) ? 'identical' : 'DIFFERENT'}`)
    // A kept version, downloaded in the page (it follows the API's redirect to the bytes).
    const kept = await stowage.files.upload(new Blob(['first'], { type: 'text/plain' }), { name: 'kept.txt', collection: 'kept' })
    await stowage.files.reupload(kept.id, new Blob(['second']))
    const versions = await stowage.files.versions(kept.id)
    const oldVersion = new TextDecoder().decode(await readAll(await stowage.files.downloadVersion(kept.id, versions[1].version)))
    say(`kept.txt: ${versions.length} versions, the old one reads "${oldVersion}"`)
    const uploadedEvent = (id) => events.some((e) => e.file.id === id && e.type === 'stowage.file.uploaded')
    await waitFor('the uploaded events', () => uploadedEvent(small.id) && uploadedEvent(big.id))
    say(`events: ${events.map((e) => `${e.type.replace('stowage.file.', '')} ${e.file.name}`).join(', ')}`)
    return {
      small: { id: small.id, name: small.name, mimeType: small.mimeType, same: same(smallBack, smallData) },
      big: { id: big.id, name: big.name, size: big.size, same: same(bigBack, bigData) },
      progress,
      versions: versions.map((v) => ({ version: v.version, current: v.current })),
      oldVersion,
      events: events.map((e) => ({ type: e.type, id: e.file.id, eventId: e.eventId })),
    }
  } finally {
    live.close()
  }
}
document.querySelector('#status').textContent = 'ready'
