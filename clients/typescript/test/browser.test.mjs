// The SDK's browser build in Debian's Chromium (driven by the pinned playwright-core, as
// web/test-support.mjs does), against a stowage-local of its own: the SDK bundled by esbuild
// for the browser (no Node import may be in it), a small and a multipart Blob uploaded and
// downloaded back identical in the page, an old version of a re-uploaded file downloaded (the
// page follows the API's redirect), and the page's subscription seeing their events.
// Screenshots go to target/browser/sdk/.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { extname, join, resolve } from 'node:path'
import { after, test } from 'node:test'
import { HERE, MIB, REPO, WEB, bytes, readAll, startLocal, Stowage } from './support.mjs'
import { consoleErrorsOf, launchChromium, stepper } from '../../../web/test-support.mjs'

const ARTIFACTS = resolve(process.env.STOWAGE_BROWSER_ARTIFACTS ?? join(REPO, 'target/browser'), 'sdk')
const BIG = 12 * MIB + 7

// The browser build: platform browser, so a static Node import would fail the build.
const { build } = createRequire(join(WEB, 'package.json'))('esbuild')
const built = await build({
  entryPoints: [join(HERE, 'browser/page.js')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  outfile: join(HERE, 'dist/page.js'),
  logLevel: 'warning',
  metafile: true,
})
const inputs = Object.keys(built.metafile.inputs)

const types = { '.html': 'text/html', '.js': 'text/javascript' }
const pages = createServer((req, res) => {
  if (req.url === '/favicon.ico') return res.writeHead(204).end()
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
const local = await startLocal({ env: { STOWAGE_MULTIPART_THRESHOLD: String(5 * MIB), STOWAGE_CORS_ORIGINS: pageOrigin } })
const token = local.token('acme', 'alice')
const browser = await launchChromium()
after(async () => {
  await browser.close()
  pages.close()
  local.process?.kill()
})

test('the browser build has no Node imports', () => {
  assert.ok(inputs.some((i) => i.endsWith('dist/index.js')), inputs.join())
  assert.deepEqual(inputs.filter((i) => i.startsWith('node:') || i.includes('node_modules')), [])
  assert.doesNotMatch(readFileSync(join(HERE, 'dist/page.js'), 'utf8'), /from\s*["']node:|require\(["']node:/)
})

test('in Chromium: a small and a multipart Blob upload, download back identical, and their events arrive', async () => {
  const page = await browser.newPage()
  const errors = consoleErrorsOf(page)
  const step = stepper(page, ARTIFACTS)
  let result
  // A collection that keeps versions (an app makes it): the page downloads an old one.
  const app = new Stowage({ endpoint: local.endpoint, token: local.token('acme', 'acme-app', 'files:read files:write files:delete files:admin') })
  await app.collections.create({ name: 'kept', versions: 1 })
  await step('the SDK in a page uploads, downloads and subscribes', async () => {
    await page.goto(`${pageOrigin}/browser/index.html`)
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'ready')
    result = await page.evaluate(([endpoint, token, size]) => window.run(endpoint, token, size), [local.endpoint, token, BIG])
  })
  assert.equal(result.small.mimeType, 'text/plain')
  assert.ok(result.small.same && result.big.same, 'identical in the page')
  assert.equal(result.big.size, BIG)
  assert.equal(result.big.name, 'big.bin')
  assert.equal(result.progress.at(-1), BIG)
  assert.deepEqual(result.versions.map((v) => v.current), [true, false])
  assert.equal(result.oldVersion, 'first')
  assert.ok(result.progress.length >= 3, 'progress per part')
  for (const id of [result.small.id, result.big.id]) {
    assert.ok(result.events.some((e) => e.id === id && e.type === 'stowage.file.created'))
    assert.ok(result.events.some((e) => e.id === id && e.type === 'stowage.file.uploaded'))
  }
  assert.equal(new Set(result.events.map((e) => e.eventId)).size, result.events.length, 'each event once')
  // And from Node, the bytes the page sent.
  const node = new Stowage({ endpoint: local.endpoint, token })
  assert.ok((await readAll(await node.files.download(result.big.id))).equals(bytes(BIG, 12)))
  assert.ok((await readAll(await node.files.download(result.small.id))).equals(bytes(100 * 1024, 11)))
  assert.deepEqual(errors, [])
})
