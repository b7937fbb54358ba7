// The Uppy adapter in a real browser (Debian's Chromium driven by playwright-core), against a
// stowage-local of its own with a 5 MiB multipart threshold: a small file and a multipart file
// uploaded and downloaded back byte-identical; a multipart upload paused, resumed and
// completed; one cancelled with no parts left; an HTML form upload; another tenant's sign
// requests refused. Screenshots go to target/browser/.
//
//   STOWAGE_LOCAL_BIN=target/debug/stowage-local node test/browser.test.mjs
//
// Exits non-zero on the first failure (with a screenshot of the moment).
import { createServer } from 'node:http'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  MIB,
  bytes,
  consoleErrorsOf,
  fail,
  launchChromium,
  startLocal,
  stepper,
  waitFor,
} from '../../test-support.mjs'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = resolve(HERE, '../../..')
const ARTIFACTS = resolve(process.env.STOWAGE_BROWSER_ARTIFACTS ?? join(REPO, 'target/browser'))

// --- the page's own origin: a static server for test/ -----------------------------------------
const types = { '.html': 'text/html', '.js': 'text/javascript' }
const pages = createServer((req, res) => {
  const path = join(HERE, new URL(req.url, 'http://x').pathname)
  if (!path.startsWith(HERE)) return res.writeHead(403).end()
  try {
    const body = readFileSync(path)
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body)
  } catch {
    res.writeHead(404).end()
  }
})
await new Promise((ok) => pages.listen(0, '127.0.0.1', ok))
const pageOrigin = `http://127.0.0.1:${pages.address().port}`

// --- stowage-local -----------------------------------------------------------------------------
const { endpoint, token, dataDir } = await startLocal({
  env: { STOWAGE_MULTIPART_THRESHOLD: String(5 * MIB), STOWAGE_CORS_ORIGINS: pageOrigin },
})
const acme = token('acme', 'alice')
const globex = token('globex', 'mallory')

async function api(method, path, body, bearer = acme) {
  const response = await fetch(endpoint + path, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, json: text ? JSON.parse(text) : null }
}

async function uploadedFile(id) {
  return waitFor(`file ${id} to be uploaded`, async () => {
    const { json } = await api('GET', `/files/${id}`)
    return json?.status === 'uploaded' ? json : null
  })
}

async function downloadMatches(file, expected) {
  const response = await fetch(file.contentUrl)
  const got = Buffer.from(await response.arrayBuffer())
  if (response.status !== 200 || !got.equals(expected)) {
    throw new Error(`${file.name}: downloaded ${got.length} bytes (${response.status}), not the ${expected.length} uploaded`)
  }
}

// --- the browser ---------------------------------------------------------------------------------
const browser = await launchChromium()
const page = await browser.newPage()
const consoleErrors = consoleErrorsOf(page)
const step = stepper(page, ARTIFACTS)
const cdp = await page.context().newCDPSession(page)

async function openUploader(bearer) {
  await page.goto(`${pageOrigin}/index.html#endpoint=${encodeURIComponent(endpoint)}&token=${bearer}`)
  await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready')
  await page.evaluate(() => window.stowageOptions.ready)
}

/** Slows uploads so a multipart upload can be caught part-way (bytes per second; -1: off). */
async function throttle(bytesPerSecond) {
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  })
}

/** Adds a generated file and starts its upload; resolves with its Uppy id once added. */
async function startUpload(name, type, size, seed, meta) {
  return page.evaluate(
    ([name, type, size, seed, meta]) => {
      const id = window.addGeneratedFile(name, type, size, seed, meta)
      window.results = window.results ?? {}
      window.results[id] = new Promise((ok, no) => {
        window.uppy.on('upload-success', (file) => file.id === id && ok(true))
        window.uppy.on('upload-error', (file, error) => file.id === id && no(error.message))
      })
      window.uppy.upload()
      return id
    },
    [name, type, size, seed, meta],
  )
}

const finished = (uppyId) => page.evaluate((id) => window.results[id], uppyId)
const recordOf = (uppyId) => page.evaluate((id) => window.stowageOptions.recordOf(id), uppyId)
const partsUploaded = (uppyId) =>
  page.evaluate(
    (id) =>
      new Promise((ok) =>
        window.uppy.on('s3-multipart:part-uploaded', (file, part) => file.id === id && ok(part.PartNumber)),
      ),
    uppyId,
  )

try {
  await openUploader(acme)

  await step('a small and a multipart file upload and download byte-identical', async () => {
    const small = await startUpload('small.txt', 'text/plain', 100 * 1024, 1, { tags: 'browser, small' })
    const big = await startUpload('big.bin', 'application/octet-stream', 20 * MIB + 5, 2, { purpose: 'test' })
    await finished(small)
    await finished(big)
    const smallRecord = await uploadedFile((await recordOf(small)).id)
    const bigRecord = await uploadedFile((await recordOf(big)).id)
    if (JSON.stringify(smallRecord.tags) !== '["browser","small"]') throw new Error(`tags: ${smallRecord.tags}`)
    if (bigRecord.purpose !== 'test' || bigRecord.size !== 20 * MIB + 5) throw new Error(JSON.stringify(bigRecord))
    const parts = (await recordOf(big)).expectedSize
    if (parts !== 20 * MIB + 5) throw new Error('the multipart record declares its size')
    await downloadMatches(smallRecord, bytes(100 * 1024, 1))
    await downloadMatches(bigRecord, bytes(20 * MIB + 5, 2))
  })

  await step('a multipart upload pauses, resumes and completes', async () => {
    await throttle(16 * MIB)
    const size = 48 * MIB
    const id = await startUpload('paused.bin', 'application/octet-stream', size, 3)
    const first = partsUploaded(id)
    await first
    await page.evaluate((id) => window.uppy.pauseResume(id), id)
    const record = await recordOf(id)
    await new Promise((ok) => setTimeout(ok, 1500))
    const held = (await api('GET', `/files/${record.id}/upload/parts`)).json.parts.length
    await new Promise((ok) => setTimeout(ok, 1000))
    const still = (await api('GET', `/files/${record.id}/upload/parts`)).json.parts.length
    if (held < 1 || held >= 6 || still !== held) {
      throw new Error(`while paused: ${held} then ${still} of 6 parts`)
    }
    await page.screenshot({ path: join(ARTIFACTS, 'paused.png'), fullPage: true })
    await throttle(-1)
    await page.evaluate((id) => window.uppy.pauseResume(id), id)
    await finished(id)
    await downloadMatches(await uploadedFile(record.id), bytes(size, 3))
  })

  await step('a cancelled multipart upload leaves no parts', async () => {
    await throttle(8 * MIB)
    const id = await startUpload('cancelled.bin', 'application/octet-stream', 24 * MIB, 4)
    await partsUploaded(id)
    const uploadId = await page.evaluate((id) => window.uppy.getFile(id).s3Multipart?.uploadId, id)
    const record = await recordOf(id)
    await page.evaluate((id) => window.uppy.removeFile(id), id)
    await throttle(-1)
    await waitFor('the record to let its upload go', async () => {
      const { json } = await api('GET', `/files/${record.id}`)
      return json?.status === 'failed'
    })
    const left = () => readdirSync(join(dataDir, 'objects')).filter((f) => f.includes(uploadId))
    await waitFor('the parts to be gone', async () => left().length === 0)
  })

  await step('an HTML form uploads a file in one request', async () => {
    const content = Buffer.from('uploaded from an HTML form\n')
    const created = await api('POST', '/files', {
      name: 'form.txt',
      mimeType: 'text/plain',
      size: content.length,
      uploadMethod: 'POST',
    })
    if (created.status !== 201 || created.json.upload.method !== 'POST') throw new Error(JSON.stringify(created.json))
    await page.goto(`${pageOrigin}/form.html#${encodeURIComponent(JSON.stringify(created.json.upload))}`)
    await page.setInputFiles('#file', { name: 'form.txt', mimeType: 'text/plain', buffer: content })
    // S3 (and the embedded endpoint) answers the form with 204 No Content, which commits no
    // navigation: the click must not wait for one. What matters is the record and the bytes.
    await page.click('button[type=submit]', { noWaitAfter: true })
    await downloadMatches(await uploadedFile(created.json.file.id), content)
  })

  await step('another tenant gets no signature for this tenant\'s upload', async () => {
    await openUploader(globex)
    const created = await api('POST', '/files', { name: 'mine.bin', mimeType: 'application/octet-stream', size: 12 * MIB, multipart: true })
    const answers = await page.evaluate(
      async ([endpoint, token, id]) => {
        const sign = (body) =>
          fetch(`${endpoint}/files/${id}/upload/sign`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          }).then(async (r) => [r.status, await r.json()])
        return [await sign({ method: 'POST' }), await sign({ method: 'GET', uploadId: 'x' })]
      },
      [endpoint, globex, created.json.file.id],
    )
    for (const [status, problem] of answers) {
      if (status !== 404 || problem.code !== 'not_found' || problem.url) throw new Error(JSON.stringify(answers))
    }
  })

  const unexpected = consoleErrors.filter((e) => !/404|409|Failed to load resource/.test(e))
  if (unexpected.length > 0) fail(`errors in the browser console:\n${unexpected.join('\n')}`)
  console.log(`browser: all passed (screenshots in ${ARTIFACTS})`)
} finally {
  await browser.close()
  pages.close()
}
// Ends the run: the exit handlers stop stowage-local and remove its data dir.
process.exit(0)
