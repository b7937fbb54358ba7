// The console in a real browser (Debian's Chromium driven by playwright-core) against a
// stowage-local of its own with its default settings, as a newcomer runs it: sign in by the
// printed link; drop a small file and a 300 MB one, pause and resume, see them `uploaded` with
// their sizes without a reload; cancel one; filter; edit (and meet a conflict); make a file
// public and fetch its public URL; download; delete; a file's versions (download, restore,
// delete one); the trash (delete into it, restore, delete forever), each offered only to whoever
// may; sign out and in again by pasting a token
// and through OpenID Connect (authorization code + PKCE against a provider of the test's own).
// Screenshots go to target/browser/console/.
//
//   STOWAGE_LOCAL_BIN=target/debug/stowage-local node test/console.test.mjs
//
// Exits non-zero on the first failure (with a screenshot of the moment).
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
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
const ARTIFACTS = resolve(process.env.STOWAGE_BROWSER_ARTIFACTS ?? join(REPO, 'target/browser'), 'console')
/** The newcomer's file: 300 MB, above the default 100 MiB multipart threshold. */
const BIG = 300 * 1000 * 1000
const CLIENT_ID = 'console-test'

/** SHA-256 of `bytes(size, seed)`, computed a MiB at a time. */
function expectedSha(size, seed) {
  const hash = createHash('sha256')
  const data = Buffer.alloc(MIB)
  for (let offset = 0; offset < size; offset += MIB) {
    const n = Math.min(MIB, size - offset)
    for (let j = 0; j < n; j++) {
      const i = offset + j
      data[j] = ((Math.floor(i / 1013) * 31 + seed) ^ (i % 251)) & 0xff
    }
    hash.update(n === MIB ? data : data.subarray(0, n))
  }
  return hash.digest('hex')
}

async function downloadSha(url) {
  const response = await fetch(url)
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`)
  const hash = createHash('sha256')
  let length = 0
  for await (const chunk of response.body) {
    hash.update(chunk)
    length += chunk.length
  }
  return { sha: hash.digest('hex'), length }
}

// --- an OpenID Connect provider of the test's own (authorization code + PKCE, S256) ----------
const grants = new Map()
let mintToken = null
let consoleUrl = null
const provider = createServer(async (req, res) => {
  const url = new URL(req.url, issuer)
  const reply = (status, body, headers = {}) =>
    res
      .writeHead(status, { 'access-control-allow-origin': '*', 'content-type': 'application/json', ...headers })
      .end(body === undefined ? undefined : JSON.stringify(body))
  if (url.pathname === '/.well-known/openid-configuration') {
    return reply(200, {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      code_challenge_methods_supported: ['S256'],
    })
  }
  if (url.pathname === '/authorize') {
    const q = url.searchParams
    const problem =
      (q.get('response_type') !== 'code' && 'response_type') ||
      (q.get('client_id') !== CLIENT_ID && 'client_id') ||
      (q.get('redirect_uri') !== consoleUrl && 'redirect_uri') ||
      (q.get('code_challenge_method') !== 'S256' && 'code_challenge_method') ||
      (!q.get('code_challenge') && 'code_challenge') ||
      (!q.get('state') && 'state')
    const back = new URL(q.get('redirect_uri') ?? consoleUrl)
    if (problem) {
      back.searchParams.set('error', 'invalid_request')
      back.searchParams.set('error_description', `bad ${problem}`)
    } else {
      const code = randomBytes(12).toString('hex')
      grants.set(code, { challenge: q.get('code_challenge'), redirect: q.get('redirect_uri') })
      back.searchParams.set('code', code)
      back.searchParams.set('state', q.get('state'))
    }
    return reply(302, undefined, { location: back.toString() })
  }
  if (url.pathname === '/token' && req.method === 'POST') {
    let body = ''
    for await (const chunk of req) body += chunk
    const form = new URLSearchParams(body)
    const grant = grants.get(form.get('code'))
    grants.delete(form.get('code'))
    const verifier = form.get('code_verifier') ?? ''
    const challenge = createHash('sha256').update(verifier).digest('base64url')
    if (
      form.get('grant_type') !== 'authorization_code' ||
      form.get('client_id') !== CLIENT_ID ||
      !grant ||
      grant.redirect !== form.get('redirect_uri') ||
      grant.challenge !== challenge
    ) {
      return reply(400, { error: 'invalid_grant', error_description: 'the code or its verifier does not match' })
    }
    return reply(200, { access_token: mintToken('acme', 'oidc-user'), id_token: 'unused', token_type: 'Bearer', expires_in: 3600 })
  }
  reply(404, { error: 'not_found' })
})
await new Promise((ok) => provider.listen(0, '127.0.0.1', ok))
const issuer = `http://127.0.0.1:${provider.address().port}`
process.on('exit', () => provider.close())

// --- stowage-local, as `cargo run -p stowage-local` starts it (plus the OIDC client) --------
const local = await startLocal({ env: { STOWAGE_CONSOLE_CLIENT_ID: CLIENT_ID, STOWAGE_CONSOLE_ISSUER: issuer } })
const { endpoint } = local
mintToken = local.token
consoleUrl = `${endpoint}/console/`
const link = /^\s*console:\s+(\S+)/.exec(local.lines.find((l) => /^\s*console:/.test(l)) ?? '')?.[1]
if (!link?.startsWith(`${consoleUrl}#token=`)) fail(`stowage-local printed no console link:\n${local.lines.join('\n')}`)
const acme = local.token('acme', 'alice')

async function api(method, path, body, headers = {}) {
  const response = await fetch(endpoint + path, {
    method,
    headers: { authorization: `Bearer ${acme}`, 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  return { status: response.status, json: text ? JSON.parse(text) : null }
}

async function recordNamed(name) {
  const { json } = await api('GET', `/files?name=${encodeURIComponent(name)}`)
  return json.items.find((f) => f.name === name) ?? null
}

// --- the browser -------------------------------------------------------------------------------
const browser = await launchChromium()
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: endpoint })
const page = await context.newPage()
const consoleErrors = consoleErrorsOf(page)
const step = stepper(page, ARTIFACTS)
const cdp = await context.newCDPSession(page)

/** Slows uploads so one can be caught part-way (bytes per second; -1: off). */
const throttle = (bytesPerSecond) =>
  cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  })

/** Drops generated files onto the Dashboard, as a person dragging them from their desktop. */
async function dropFiles(specs) {
  const transfer = await page.evaluateHandle((specs) => {
    const transfer = new DataTransfer()
    for (const { name, type, size, seed } of specs) {
      const data = new Uint8Array(size)
      for (let i = 0; i < size; i++) data[i] = ((Math.floor(i / 1013) * 31 + seed) ^ (i % 251)) & 0xff
      transfer.items.add(new File([data], name, { type }))
    }
    return transfer
  }, specs)
  for (const type of ['dragenter', 'dragover', 'drop']) {
    await page.dispatchEvent('.uppy-Dashboard-inner', type, { dataTransfer: transfer })
  }
  for (const { name } of specs) await page.locator('.uppy-Dashboard-Item', { hasText: name }).waitFor()
}

const uploadForm = page.locator('form.upload-meta')
const editForm = page.locator('form.edit')
const filters = page.locator('form.filters')
const item = (name) => page.locator('.uppy-Dashboard-Item', { hasText: name })
const row = (name) => page.locator('table.files tbody tr', { has: page.getByRole('link', { name, exact: true }) })
const progress = () =>
  page.locator('.uppy-StatusBar-progress').getAttribute('aria-valuenow').then((v) => Number(v ?? 0))

/** Every form control outside Uppy's own markup has a label (accessible basics). */
async function unlabelledControls() {
  return page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((c) => !c.closest('.uppy-Root') && c.type !== 'hidden')
      .filter((c) => !c.labels?.length && !c.getAttribute('aria-label'))
      .map((c) => c.outerHTML),
  )
}

try {
  await step('sign in by the printed link', async () => {
    await page.goto(link)
    await page.getByRole('heading', { name: 'Files' }).waitFor()
    await page.locator('#who', { hasText: 'acme / alice' }).waitFor()
    if (page.url() !== consoleUrl) throw new Error(`the token stays in the address bar: ${page.url()}`)
    await page.getByText('No files match.').waitFor()
    const missing = await unlabelledControls()
    if (missing.length) throw new Error(`controls without a label: ${missing.join('\n')}`)
  })

  await step('changes made elsewhere show at once, without polling (realtime)', async () => {
    await page.locator('.live-state', { hasText: 'Live' }).waitFor()
    const listings = []
    const watch = (request) => new URL(request.url()).pathname === '/files' && request.method() === 'GET' && listings.push(Date.now())
    page.on('request', watch)
    await page.waitForTimeout(2500)
    if (listings.length !== 0) throw new Error(`the list was polled ${listings.length} times while live`)
    // An upload by another client (as the CLI makes one): it shows within a second.
    const created = await api('POST', '/files', { name: 'from-elsewhere.txt', mimeType: 'text/plain', size: 5 })
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.json)}`)
    const started = Date.now()
    await row('from-elsewhere.txt').waitFor({ timeout: 1500 })
    const put = await fetch(created.json.upload.url, { method: 'PUT', headers: created.json.upload.headers, body: 'hello' })
    if (put.status !== 200) throw new Error(`PUT: ${put.status}`)
    await row('from-elsewhere.txt').locator('td.status', { hasText: 'uploaded' }).waitFor({ timeout: 1500 })
    console.log(`browser: an upload made elsewhere appeared after ${Date.now() - started} ms, from the channel`)
    page.off('request', watch)
    await page.screenshot({ path: join(ARTIFACTS, 'live.png'), fullPage: true })
    const { json } = await api('GET', '/files?name=from-elsewhere.txt')
    await api('DELETE', `/files/${json.items[0].id}`)
    await row('from-elsewhere.txt').waitFor({ state: 'detached', timeout: 1500 })
  })

  await step('stowage-local restarts under the console: it reconnects and shows what changed', async () => {
    await local.restart()
    // Made right after the restart, before the console is back on the channel.
    const created = await api('POST', '/files', { name: 'after-restart.txt', mimeType: 'text/plain' })
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.json)}`)
    await page.locator('.live-state', { hasText: 'Live' }).waitFor({ timeout: 15000 })
    await row('after-restart.txt').waitFor({ timeout: 3000 })
    await api('DELETE', `/files/${created.json.file.id}`)
    await row('after-restart.txt').waitFor({ state: 'detached', timeout: 3000 })
  })

  await step('drop a small file and a 300 MB file, pause and resume', async () => {
    await uploadForm.getByLabel('Tags (comma-separated)').fill('console, test')
    await uploadForm.getByLabel('Purpose').fill('demo')
    await dropFiles([
      { name: 'notes.txt', type: 'text/plain', size: 12 * 1024, seed: 1 },
      { name: 'big.bin', type: 'application/octet-stream', size: BIG, seed: 2 },
    ])
    await throttle(32 * MIB)
    await page.getByRole('button', { name: 'Upload 2 files' }).click()
    await waitFor('the upload to be under way', async () => (await progress()) >= 5)
    await item('big.bin').getByRole('button', { name: 'Pause upload' }).click()
    await item('big.bin').getByRole('button', { name: 'Resume upload' }).waitFor()
    const big = await waitFor('the big file in the API', () => recordNamed('big.bin'))
    const parts = async () => (await api('GET', `/files/${big.id}/upload/parts`)).json.parts.length
    await new Promise((ok) => setTimeout(ok, 1500))
    const held = await parts()
    await new Promise((ok) => setTimeout(ok, 1500))
    const still = await parts()
    if (still !== held) throw new Error(`parts kept arriving while paused: ${held} then ${still}`)
    // The list already shows the file, pending, with its size, without a reload.
    await row('big.bin').locator('td.status', { hasText: 'pending' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'paused.png'), fullPage: true })
    await throttle(-1)
    await item('big.bin').getByRole('button', { name: 'Resume upload' }).click()
    await row('big.bin').locator('td.status', { hasText: 'uploaded' }).waitFor({ timeout: 120_000 })
    await row('notes.txt').locator('td.status', { hasText: 'uploaded' }).waitFor()
    await row('big.bin').locator('td', { hasText: '286 MiB' }).waitFor()
    const record = await recordNamed('big.bin')
    if (record.size !== BIG || record.purpose !== 'demo' || record.tags.join() !== 'console,test') {
      throw new Error(`big.bin: ${JSON.stringify(record)}`)
    }
    const got = await downloadSha(record.contentUrl)
    if (got.length !== BIG || got.sha !== expectedSha(BIG, 2)) throw new Error(`big.bin came back as ${got.length} other bytes`)
  })

  await step('an uploaded image gets its thumbnail in the list', async () => {
    await uploadForm.getByLabel('Tags (comma-separated)').fill('')
    await uploadForm.getByLabel('Purpose').fill('')
    // A 400×200 PNG drawn in the page, dropped like any file.
    const transfer = await page.evaluateHandle(async () => {
      const canvas = new OffscreenCanvas(400, 200)
      const context = canvas.getContext('2d')
      context.fillStyle = '#2a6f97'
      context.fillRect(0, 0, 400, 200)
      context.fillStyle = '#f4a261'
      context.fillRect(0, 0, 200, 200)
      const blob = await canvas.convertToBlob({ type: 'image/png' })
      const transfer = new DataTransfer()
      transfer.items.add(new File([blob], 'photo.png', { type: 'image/png' }))
      return transfer
    })
    for (const type of ['dragenter', 'dragover', 'drop']) {
      await page.dispatchEvent('.uppy-Dashboard-inner', type, { dataTransfer: transfer })
    }
    await item('photo.png').waitFor()
    await page.getByRole('button', { name: 'Upload 1 file' }).click()
    await row('photo.png').locator('td.status', { hasText: 'uploaded' }).waitFor()
    // Made in the background after the upload lands; the list picks it up on a later refresh.
    const img = row('photo.png').locator('td.thumb img')
    await img.waitFor({ timeout: 15_000 })
    const natural = await img.evaluate(async (el) => {
      await el.decode()
      return [el.naturalWidth, el.naturalHeight]
    })
    if (natural.join() !== '64,32') throw new Error(`the thumbnail is ${natural.join('×')}, not 64×32`)
    // Files that are not images have none.
    if ((await row('notes.txt').locator('td.thumb img').count()) !== 0) throw new Error('notes.txt has a thumbnail')
  })

  await step('cancel an upload', async () => {
    await dropFiles([{ name: 'cancelled.bin', type: 'application/octet-stream', size: 120 * MIB, seed: 3 }])
    await throttle(8 * MIB)
    await page.getByRole('button', { name: 'Upload 1 file' }).click()
    const record = await waitFor('the file in the API', () => recordNamed('cancelled.bin'))
    await waitFor('a part to arrive', async () => (await api('GET', `/files/${record.id}/upload/parts`)).json?.parts?.length > 0)
    await item('cancelled.bin').getByRole('button', { name: 'Remove file' }).click()
    await throttle(-1)
    await item('cancelled.bin').waitFor({ state: 'detached' })
    await row('cancelled.bin').locator('td.status', { hasText: 'failed' }).waitFor()
    const parts = await api('GET', `/files/${record.id}/upload/parts`)
    if (parts.status < 400) throw new Error(`the cancelled upload still lists parts: ${JSON.stringify(parts.json)}`)
  })

  await step('filter the list', async () => {
    const names = () => page.locator('table.files tbody tr td:nth-child(3)').allTextContents()
    const filter = async (label, value) => {
      const control = filters.getByLabel(label, { exact: true })
      if ((await control.evaluate((e) => e.tagName)) === 'SELECT') await control.selectOption(value)
      else await control.fill(value)
      await filters.getByRole('button', { name: 'Filter' }).click()
    }
    await filter('Name', 'notes.txt')
    await waitFor('only notes.txt', async () => (await names()).join() === 'notes.txt')
    await filter('Name', '')
    await filter('Status', 'failed')
    await waitFor('only the cancelled file', async () => (await names()).join() === 'cancelled.bin')
    await filter('Status', '')
    await filter('Tag', 'console')
    await waitFor('the two tagged files, newest first', async () => (await names()).join() === 'big.bin,notes.txt' || (await names()).join() === 'notes.txt,big.bin')
    await filter('Tag', '')
    await waitFor('all four files', async () => (await names()).length === 4)
  })

  await step('pick a collection: browse it, upload into it, see its rules and usage', async () => {
    const app = local.token('acme', 'app', 'files:admin')
    const made = await api('POST', '/collections', { name: 'docs', allowedMimeTypes: ['text/*'], maxFileSize: 1000000, maxFiles: 10 }, { authorization: `Bearer ${app}` })
    if (made.status !== 201) throw new Error(`POST /collections: ${made.status} ${JSON.stringify(made.json)}`)
    const picker = page.getByRole('combobox', { name: 'Collection', exact: true })
    // Opening the picker finds a collection made elsewhere.
    await picker.focus()
    await waitFor('docs in the picker', async () => (await picker.locator('option').allTextContents()).includes('docs'))
    await picker.selectOption('docs')
    const rules = page.locator('table.rules')
    await rules.locator('tr', { hasText: 'Allowed types' }).locator('td', { hasText: 'text/*' }).waitFor()
    await rules.locator('tr', { hasText: 'Files' }).locator('td', { hasText: '0 of 10' }).waitFor()
    await page.getByText('No files match.').waitFor()
    await uploadForm.getByText('Files you add go to the collection docs.').waitFor()
    await dropFiles([{ name: 'in-docs.txt', type: 'text/plain', size: 2048, seed: 5 }])
    await page.getByRole('button', { name: 'Upload 1 file' }).click()
    await row('in-docs.txt').locator('td.status', { hasText: 'uploaded' }).waitFor()
    const record = await recordNamed('in-docs.txt')
    if (record.collection !== 'docs') throw new Error(`in-docs.txt is in ${record.collection}`)
    if ((await page.locator('table.files tbody tr').count()) !== 1) throw new Error('the list shows other collections')
    // The counters show on the next look at the collection.
    await picker.selectOption('')
    await picker.selectOption('docs')
    await rules.locator('tr', { hasText: 'Files' }).locator('td', { hasText: '1 of 10' }).waitFor()
    // The printed link signs in with every scope: its owner edits the rules.
    await page.getByText('Edit rules').click()
    await page.getByLabel('Max files (empty: none)').fill('20')
    await page.getByRole('button', { name: 'Save rules' }).click()
    await page.getByText('Rules saved.').waitFor()
    await rules.locator('tr', { hasText: 'Files' }).locator('td', { hasText: '1 of 20' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'collection.png'), fullPage: true })
    const { json } = await api('GET', '/collections/docs')
    if (json.maxFiles !== 20 || json.allowedMimeTypes.join() !== 'text/*') throw new Error(`docs: ${JSON.stringify(json)}`)
    const missing = await unlabelledControls()
    if (missing.length) throw new Error(`controls without a label: ${missing.join('\n')}`)
    await picker.selectOption('')
    await uploadForm.getByText('Files you add go to the collection default.').waitFor()
    await waitFor('every file again', async () => (await page.locator('table.files tbody tr').count()) === 5)

    // A member (files:read/write/delete) sees the rules, and is offered no edit.
    const member = await context.newPage()
    await member.goto(`${consoleUrl}#token=${acme}`)
    const memberPicker = member.getByRole('combobox', { name: 'Collection', exact: true })
    await waitFor("docs in the member's picker", async () => (await memberPicker.locator('option').allTextContents()).includes('docs'))
    await memberPicker.selectOption('docs')
    await member.locator('table.rules tr', { hasText: 'Files' }).locator('td', { hasText: '1 of 20' }).waitFor()
    if ((await member.getByText('Edit rules').count()) !== 0) throw new Error('a member is offered to edit rules')
    await member.screenshot({ path: join(ARTIFACTS, 'collection-member.png'), fullPage: true })
    await member.close()
  })

  await step('edit fields and meet a conflict', async () => {
    await page.getByRole('link', { name: 'notes.txt', exact: true }).click()
    await page.getByRole('heading', { name: 'notes.txt' }).waitFor()
    await editForm.getByLabel('Name', { exact: true }).fill('readme.txt')
    await editForm.getByLabel('Tags (comma-separated)').fill('console, edited')
    await editForm.getByLabel('Purpose').fill('docs')
    await editForm.getByLabel('Metadata (JSON object)').fill('{"lang": "en"}')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.getByText(/^Saved \(version \d+\)\.$/).waitFor()
    const saved = await recordNamed('readme.txt')
    if (saved.purpose !== 'docs' || saved.tags.join() !== 'console,edited' || saved.metadata.lang !== 'en') {
      throw new Error(`not saved as edited: ${JSON.stringify(saved)}`)
    }
    // Someone else changes the file; this page's next save meets the conflict.
    const elsewhere = await api('PATCH', `/files/${saved.id}`, { purpose: 'changed elsewhere' }, { 'if-match': `"${saved.version}"` })
    if (elsewhere.status !== 200) throw new Error(`PATCH elsewhere: ${JSON.stringify(elsewhere.json)}`)
    await editForm.getByLabel('Purpose').fill('mine')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.getByRole('alert').filter({ hasText: 'changed elsewhere since you opened it' }).waitFor()
    if ((await editForm.getByLabel('Purpose').inputValue()) !== 'mine') throw new Error('the edit was lost')
    await page.locator('dd[data-field="version"]', { hasText: String(elsewhere.json.version) }).waitFor()
    await page.locator('dd[data-field="purpose"]', { hasText: 'changed elsewhere' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'conflict.png'), fullPage: true })
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.getByText(/^Saved \(version \d+\)\.$/).waitFor()
    if ((await recordNamed('readme.txt')).purpose !== 'mine') throw new Error('the second save did not land')
  })

  await step('make the file public and fetch its public URL', async () => {
    await editForm.getByLabel('Public: anyone with the link can download it').check()
    await page.getByRole('button', { name: 'Save changes' }).click()
    const field = page.getByLabel('Public URL')
    await field.waitFor()
    const url = await field.inputValue()
    const response = await fetch(url)
    const body = Buffer.from(await response.arrayBuffer())
    if (response.status !== 200 || !body.equals(bytes(12 * 1024, 1))) throw new Error(`GET ${url}: ${response.status}, ${body.length} bytes`)
    await page.getByRole('button', { name: 'Copy public URL' }).click()
    await page.getByText('Public URL copied.').waitFor()
    const copied = await page.evaluate(() => navigator.clipboard.readText())
    if (copied !== url) throw new Error(`copied ${copied}`)
  })

  await step('download', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download' }).click()])
    const saved = readFileSync(await download.path())
    if (download.suggestedFilename() !== 'readme.txt' || !saved.equals(bytes(12 * 1024, 1))) {
      throw new Error(`downloaded ${download.suggestedFilename()}, ${saved.length} bytes`)
    }
  })

  await step('delete with confirmation', async () => {
    const id = (await recordNamed('readme.txt')).id
    const missing = await unlabelledControls()
    if (missing.length) throw new Error(`controls without a label: ${missing.join('\n')}`)
    await page.getByRole('button', { name: 'Delete…' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click()
    if ((await api('GET', `/files/${id}`)).status !== 200) throw new Error('Cancel deleted the file')
    await page.getByRole('button', { name: 'Delete…' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('Delete readme.txt?').waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'confirm-delete.png'), fullPage: true })
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click()
    await page.getByText('readme.txt was deleted.').waitFor()
    await waitFor('the file to be gone', async () => (await api('GET', `/files/${id}`)).status === 404)
    await row('readme.txt').waitFor({ state: 'detached' })
  })

  await step("a file's versions: download one, restore one, delete one", async () => {
    const app = local.token('acme', 'app', 'files:admin')
    // Keeps 5 earlier contents and deleted files for 7 days; only alice deletes (bob reads and writes).
    const made = await api(
      'POST',
      '/collections',
      { name: 'history', versions: 5, trashDays: 7, access: { read: ['tenant'], write: ['tenant'], delete: ['user:alice'] } },
      { authorization: `Bearer ${app}` },
    )
    if (made.status !== 201) throw new Error(`POST /collections: ${made.status} ${JSON.stringify(made.json)}`)
    // Uploaded twice (as an app or the CLI would): the first content is kept as a version.
    const created = await api('POST', '/files', { collection: 'history', name: 'draft.txt', mimeType: 'text/plain', size: 5 })
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.json)}`)
    const id = created.json.file.id
    const first = await fetch(created.json.upload.url, { method: 'PUT', headers: created.json.upload.headers, body: 'first' })
    if (first.status !== 200) throw new Error(`PUT: ${first.status}`)
    await waitFor('the first upload to land', async () => (await api('GET', `/files/${id}`)).json.status === 'uploaded')
    const again = await api('POST', `/files/${id}/upload`, { size: 6 })
    if (again.status !== 200) throw new Error(`re-upload: ${JSON.stringify(again.json)}`)
    const second = await fetch(again.json.upload.url, { method: 'PUT', headers: again.json.upload.headers, body: 'second' })
    if (second.status !== 200) throw new Error(`PUT: ${second.status}`)
    const listed = await waitFor('two versions', async () => {
      const { json } = await api('GET', `/files/${id}/versions`)
      return json?.items?.length === 2 ? json.items : null
    })
    const [current, older] = listed.map((v) => v.version)

    await row('draft.txt').waitFor()
    await page.getByRole('link', { name: 'draft.txt', exact: true }).click()
    await page.getByRole('heading', { name: 'draft.txt' }).waitFor()
    await page.getByRole('heading', { name: 'Versions' }).waitFor()
    const versions = page.locator('table.versions')
    await versions.locator(`tr[data-version="${current}"][data-current="true"]`, { hasText: '(current)' }).waitFor()
    await versions.locator(`tr[data-version="${older}"][data-current="false"]`).waitFor()
    // The current one is neither restored nor deleted.
    for (const name of [`Restore version ${current}`, `Delete version ${current}`]) {
      if ((await page.getByRole('button', { name, exact: true }).count()) !== 0) throw new Error(`the current version offers ${name}`)
    }
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: `Download version ${older}`, exact: true }).click(),
    ])
    const saved = readFileSync(await download.path()).toString()
    if (saved !== 'first') throw new Error(`version ${older} downloaded as ${JSON.stringify(saved)}`)
    await page.screenshot({ path: join(ARTIFACTS, 'versions.png'), fullPage: true })

    await page.getByRole('button', { name: `Restore version ${older}`, exact: true }).click()
    await page.getByText(`Version ${older} restored: it is the current content now.`).waitFor()
    // The restored content is a new current version; the one it replaced is kept.
    const restored = await waitFor('the restored version', async () => {
      const { json } = await api('GET', `/files/${id}/versions`)
      return json.items.length === 3 ? json.items[0].version : null
    })
    await versions.locator(`tr[data-version="${restored}"][data-current="true"]`).waitFor()
    await versions.locator(`tr[data-version="${current}"][data-current="false"]`).waitFor()
    const record = (await api('GET', `/files/${id}`)).json
    const body = await (await fetch(record.contentUrl)).text()
    if (body !== 'first') throw new Error(`the restored content reads ${JSON.stringify(body)}`)

    // bob may write it but not delete it: restore is offered, delete is not.
    const bob = await context.newPage()
    const bobErrors = consoleErrorsOf(bob)
    await bob.goto(`${consoleUrl}#token=${local.token('acme', 'bob')}`)
    await bob.locator('#who', { hasText: 'acme / bob' }).waitFor()
    await bob.goto(`${consoleUrl}#/files/${id}`)
    await bob.getByRole('heading', { name: 'Versions' }).waitFor()
    await bob.getByRole('button', { name: `Restore version ${current}`, exact: true }).waitFor()
    for (const [what, locator] of [
      ['Delete…', bob.getByRole('button', { name: 'Delete…' })],
      [`Delete version ${current}`, bob.getByRole('button', { name: `Delete version ${current}`, exact: true })],
    ]) {
      if (await locator.isVisible()) throw new Error(`bob is offered ${what}`)
    }
    await bob.screenshot({ path: join(ARTIFACTS, 'versions-writer.png'), fullPage: true })
    if (bobErrors.length) throw new Error(`bob's page met errors: ${bobErrors.join('\n')}`)
    await bob.close()

    await page.getByRole('button', { name: `Delete version ${current}`, exact: true }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText(`Delete version ${current} of draft.txt?`).waitFor()
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click()
    await page.getByText(`Version ${current} deleted.`).waitFor()
    await versions.locator(`tr[data-version="${current}"]`).waitFor({ state: 'detached' })
    const left = (await api('GET', `/files/${id}/versions`)).json.items.map((v) => v.version).join()
    if (left !== `${restored},${older}`) throw new Error(`versions left: ${left}`)
  })

  await step('delete into the trash, restore from it, delete forever', async () => {
    const id = (await recordNamed('draft.txt')).id
    await page.getByRole('button', { name: 'Delete…' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText('It goes to the trash: it can be restored from there for 7 days').waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'confirm-trash.png'), fullPage: true })
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click()
    await page.getByText('draft.txt was moved to the trash.').waitFor()
    await row('draft.txt').waitFor({ state: 'detached' })
    if ((await api('GET', `/files/${id}`)).status !== 404) throw new Error('the trashed file is still found')

    await page.getByRole('button', { name: 'Trash', exact: true }).click()
    await page.getByRole('heading', { name: 'Trash' }).waitFor()
    const trashed = page.locator('table.trash tbody tr', { hasText: 'draft.txt' })
    await trashed.waitFor()
    for (const at of ['trashedAt', 'purgeAt']) {
      if ((await trashed.locator(`td[data-field="${at}"]`).textContent()) === '—') throw new Error(`no ${at} shown`)
    }
    await page.screenshot({ path: join(ARTIFACTS, 'trash.png'), fullPage: true })
    await page.getByRole('button', { name: 'Restore draft.txt', exact: true }).click()
    await page.getByText('draft.txt was restored.').waitFor()
    await trashed.waitFor({ state: 'detached' })
    if ((await api('GET', `/files/${id}`)).status !== 200) throw new Error('the restored file is not found')
    await page.getByRole('button', { name: 'Files', exact: true }).click()
    await row('draft.txt').waitFor()

    // Deleted again (elsewhere): it shows in the trash, where bob (who may not delete) is offered nothing.
    if ((await api('DELETE', `/files/${id}`)).status !== 204) throw new Error('DELETE elsewhere failed')
    await row('draft.txt').waitFor({ state: 'detached' })
    const bob = await context.newPage()
    await bob.goto(`${consoleUrl}#token=${local.token('acme', 'bob')}`)
    await bob.locator('#who', { hasText: 'acme / bob' }).waitFor()
    await bob.getByRole('button', { name: 'Trash', exact: true }).click()
    await bob.locator('table.trash tbody tr', { hasText: 'draft.txt' }).waitFor()
    if ((await bob.locator('table.trash tbody tr', { hasText: 'draft.txt' }).getByRole('button').count()) !== 0) {
      throw new Error('bob is offered to restore or delete a file he may not delete')
    }
    await bob.close()

    await page.getByRole('button', { name: 'Trash', exact: true }).click()
    await trashed.waitFor()
    await page.getByRole('button', { name: 'Delete draft.txt forever', exact: true }).click()
    await dialog.getByText('Delete draft.txt forever?').waitFor()
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    if ((await api('GET', `/files/${id}?trashed=true`)).status !== 200) throw new Error('Cancel deleted the file')
    await page.getByRole('button', { name: 'Delete draft.txt forever', exact: true }).click()
    await page.screenshot({ path: join(ARTIFACTS, 'confirm-delete-forever.png'), fullPage: true })
    await dialog.getByRole('button', { name: 'Delete forever', exact: true }).click()
    await page.getByText('draft.txt was deleted for good.').waitFor()
    await trashed.waitFor({ state: 'detached' })
    if ((await api('GET', `/files/${id}?trashed=true`)).status !== 404) throw new Error('the file is still in the trash')
    await page.getByRole('button', { name: 'Files', exact: true }).click()
    await page.getByRole('heading', { name: 'Files' }).waitFor()
    await row('big.bin').waitFor()
  })

  await step('share a file; a reader is offered only what it may do', async () => {
    const app = local.token('acme', 'app', 'files:admin')
    const made = await api('POST', '/collections', { name: 'vault', access: { read: [], write: ['tenant'], delete: [] }, fileSecurity: true }, { authorization: `Bearer ${app}` })
    if (made.status !== 201) throw new Error(`POST /collections: ${made.status} ${JSON.stringify(made.json)}`)
    const team = await api('POST', '/collections', { name: 'team', access: { read: ['group:eng'], write: ['group:eng'], delete: ['group:eng'] } }, { authorization: `Bearer ${app}` })
    if (team.status !== 201) throw new Error(`POST /collections: ${team.status} ${JSON.stringify(team.json)}`)
    const olivia = local.token('acme', 'olivia')
    const created = await api('POST', '/files', { collection: 'vault', name: 'secret.txt', mimeType: 'text/plain', size: 6 }, { authorization: `Bearer ${olivia}` })
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.json)}`)
    const put = await fetch(created.json.upload.url, { method: 'PUT', headers: created.json.upload.headers, body: 'secret' })
    if (put.status !== 200) throw new Error(`PUT: ${put.status}`)
    const id = created.json.file.id
    const as = (token) => ({ authorization: `Bearer ${token}` })

    // The owner shares it with rita, as a reader.
    const owner = await context.newPage()
    await owner.goto(`${consoleUrl}#token=${olivia}`)
    await owner.locator('#who', { hasText: 'acme / olivia' }).waitFor()
    await owner.goto(`${consoleUrl}#/files/${id}`)
    await owner.getByRole('heading', { name: 'Shared with' }).waitFor()
    await owner.getByText('Nobody else').waitFor()
    const share = owner.getByRole('form', { name: 'Share the file' })
    await share.getByLabel('Share with').selectOption('user')
    await share.getByLabel('Name').fill('rita')
    await share.getByLabel('Role').selectOption('reader')
    await share.getByRole('button', { name: 'Share' }).click()
    await owner.getByText('Shared with user:rita.').waitFor()
    await owner.locator('ul.grants li', { hasText: 'rita (user) — reader' }).waitFor()
    await owner.screenshot({ path: join(ARTIFACTS, 'sharing-owner.png'), fullPage: true })
    const shared = await api('GET', `/files/${id}`, undefined, as(olivia))
    if (JSON.stringify(shared.json.grants) !== JSON.stringify([{ principal: 'user:rita', role: 'reader' }])) {
      throw new Error(`grants: ${JSON.stringify(shared.json.grants)}`)
    }

    // rita reads it, and is offered no edit, no delete, no sharing.
    const rita = await context.newPage()
    const ritaErrors = consoleErrorsOf(rita)
    await rita.goto(`${consoleUrl}#token=${local.token('acme', 'rita')}`)
    await rita.locator('#who', { hasText: 'acme / rita' }).waitFor()
    await rita.getByRole('link', { name: 'secret.txt', exact: true }).waitFor()
    await rita.getByRole('link', { name: 'secret.txt', exact: true }).click()
    await rita.getByRole('heading', { name: 'secret.txt' }).waitFor()
    await rita.getByRole('link', { name: 'Download' }).waitFor()
    await rita.getByText('Only the owner and apps change who it is shared with.').waitFor()
    for (const [what, locator] of [
      ['Delete…', rita.getByRole('button', { name: 'Delete…' })],
      ['the edit form', rita.locator('form.edit')],
      ['Remove', rita.getByRole('button', { name: 'Remove' })],
      ['the share form', rita.getByRole('form', { name: 'Share the file' })],
    ]) {
      if (await locator.isVisible()) throw new Error(`a reader is offered ${what}`)
    }
    await rita.screenshot({ path: join(ARTIFACTS, 'sharing-reader.png'), fullPage: true })
    // The collection view shows who may do what; no upload is offered where rita may not write.
    await rita.getByRole('link', { name: '← All files' }).click()
    const picker = rita.getByRole('combobox', { name: 'Collection', exact: true })
    await waitFor("team in rita's picker", async () => (await picker.locator('option').allTextContents()).includes('team'))
    await picker.selectOption('vault')
    await rita.locator('table.rules tr', { hasText: 'Who reads' }).locator('td', { hasText: 'nobody through the collection' }).waitFor()
    await rita.locator('table.rules tr', { hasText: 'File security' }).locator('td', { hasText: 'on' }).waitFor()
    if (!(await rita.locator('form.upload-meta').isVisible())) throw new Error('no upload offered where rita may write')
    await picker.selectOption('team')
    await rita.locator('table.rules tr', { hasText: 'Who writes' }).locator('td', { hasText: 'group:eng' }).waitFor()
    await waitFor('the upload panel to go', async () => !(await rita.locator('form.upload-meta').isVisible()))
    await rita.screenshot({ path: join(ARTIFACTS, 'collection-access.png'), fullPage: true })
    // An eng member is offered the upload there.
    const erin = await context.newPage()
    await erin.goto(`${consoleUrl}#token=${local.token('acme', 'erin', undefined, ['eng'])}`)
    const erinPicker = erin.getByRole('combobox', { name: 'Collection', exact: true })
    await waitFor("team in erin's picker", async () => (await erinPicker.locator('option').allTextContents()).includes('team'))
    await erinPicker.selectOption('team')
    await erin.getByText('Files you add go to the collection team.').waitFor()
    await erin.close()
    if (ritaErrors.length) throw new Error(`rita's page met errors: ${ritaErrors.join('\n')}`)
    await rita.close()

    // The owner stops sharing it.
    await owner.getByRole('button', { name: 'Stop sharing with user:rita' }).click()
    await owner.getByText('No longer shared with user:rita.').waitFor()
    const after = await api('GET', `/files/${id}`, undefined, as(olivia))
    if (after.json.grants.length !== 0) throw new Error(`grants: ${JSON.stringify(after.json.grants)}`)
    if ((await api('GET', `/files/${id}`, undefined, as(local.token('acme', 'rita')))).status !== 404) {
      throw new Error('rita still sees the file')
    }
    await owner.close()
  })

  await step("a member's HTML file never runs script in the console's origin", async () => {
    // A page that, if it ever ran here, would read the signed-in token from this tab's
    // sessionStorage and send it away.
    const html = `<!doctype html><title>page</title><script>document.title = 'ran'; new Image().src = '/leak?' + encodeURIComponent(JSON.stringify(sessionStorage))</script><p>hello</p>`
    const leaks = []
    const watch = (request) => request.url().includes('/leak') && leaks.push(request.url())
    page.on('request', watch)
    const urls = []
    for (const privateAccess of [false, true]) {
      const created = await api('POST', '/files', { name: `page-${privateAccess}.html`, mimeType: 'text/html', privateAccess, size: html.length })
      if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.json)}`)
      const { upload, file } = created.json
      const put = await fetch(upload.url, { method: 'PUT', headers: upload.headers, body: html })
      if (put.status !== 200) throw new Error(`PUT: ${put.status} ${await put.text()}`)
      await waitFor(`${file.name} to be uploaded`, async () => (await api('GET', `/files/${file.id}`)).json.status === 'uploaded')
      const record = (await api('GET', `/files/${file.id}`)).json
      urls.push(record.contentUrl)
      // The download link a member could send, asking for inline display.
      const inline = await fetch(`${endpoint}/files/${file.id}/content?disposition=inline`, { headers: { authorization: `Bearer ${acme}` }, redirect: 'manual' })
      if (inline.status !== 302) throw new Error(`content: ${inline.status}`)
      urls.push(inline.headers.get('location'))
    }
    for (const url of urls) {
      if (new URL(url).origin !== endpoint) throw new Error(`${url} is not served by the console's origin; this test needs it to be`)
      const response = await fetch(url)
      const headers = Object.fromEntries(['content-security-policy', 'x-content-type-options', 'content-disposition'].map((h) => [h, response.headers.get(h)]))
      if (headers['content-security-policy'] !== 'sandbox' || headers['x-content-type-options'] !== 'nosniff' || !/^attachment/.test(headers['content-disposition'] ?? '')) {
        throw new Error(`GET ${url}: ${JSON.stringify(headers)}`)
      }
      // Opened in the console's own tab, where the token lives: the browser saves it instead.
      await page.goto(url).catch((err) => {
        if (!/download|ERR_ABORTED/i.test(String(err))) throw err
      })
      await page.waitForTimeout(300)
      if (leaks.length) throw new Error(`the page's script ran in the console's origin: ${leaks[0]}`)
      if ((await page.title()) === 'ran') throw new Error(`the page's script ran: ${url}`)
    }
    page.off('request', watch)
    await page.goto(consoleUrl)
    await page.locator('#who', { hasText: 'acme / alice' }).waitFor()
  })

  await step('a file manager: make folders, drop a file into one, find it, sort, select, move a folder', async () => {
    const names = () => page.locator('table.files tbody tr td:nth-child(3) a').allTextContents()
    for (const name of ['Q3 Report 2026.txt', 'alpha plan.txt', 'zeta notes.txt']) {
      const created = await api('POST', '/files', { name, mimeType: 'text/plain', size: 5 })
      if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.json)}`)
      const put = await fetch(created.json.upload.url, { method: 'PUT', headers: created.json.upload.headers, body: 'hello' })
      if (put.status !== 200) throw new Error(`PUT: ${put.status}`)
      await row(name).locator('td.status', { hasText: 'uploaded' }).waitFor()
    }
    // Two folders, made as a person makes them.
    for (const name of ['reports', 'archive']) {
      await page.getByRole('button', { name: 'New folder' }).click()
      const dialog = page.getByRole('dialog')
      await dialog.getByLabel('Name (in /)').fill(name)
      await dialog.getByRole('button', { name: 'Create' }).click()
      await page.getByRole('button', { name: `Open folder ${name}` }).waitFor()
    }
    // A file dragged onto a folder goes into it.
    await row('Q3 Report 2026.txt').dragTo(page.getByRole('button', { name: 'Open folder reports' }))
    await row('Q3 Report 2026.txt').waitFor({ state: 'detached' })
    if ((await recordNamed('Q3 Report 2026.txt')).directory !== '/reports') throw new Error('the dropped file is not in /reports')
    await page.getByRole('button', { name: 'Open folder reports' }).click()
    await page.locator('nav.crumbs a[aria-current]', { hasText: 'reports' }).waitFor()
    await row('Q3 Report 2026.txt').waitFor()
    await uploadForm.getByText('Files you add go to the collection default, in /reports.').waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'folder.png'), fullPage: true })
    await page.locator('nav.crumbs').getByRole('link', { name: 'All files' }).click()
    await page.getByRole('button', { name: 'Open folder reports' }).waitFor()

    // Found by words of its name, from the top, in the folder it is in.
    await filters.getByLabel('Search names').fill('rep 2026')
    await filters.getByRole('button', { name: 'Filter' }).click()
    await waitFor('the report, found', async () => (await names()).join() === 'Q3 Report 2026.txt')
    await row('Q3 Report 2026.txt').locator('.where', { hasText: '/reports' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'search.png'), fullPage: true })
    await filters.getByLabel('Search names').fill('')
    await filters.getByRole('button', { name: 'Filter' }).click()
    await row('alpha plan.txt').waitFor()

    // Sorted by name, then the other way, by the column heading.
    const nameHeading = page.locator('th button.sort', { hasText: 'Name' })
    const folded = (list) => [...list].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()))
    await nameHeading.click()
    await waitFor('names in order', async () => {
      const shown = await names()
      return shown.length > 2 && shown.join() === folded(shown).join()
    })
    await nameHeading.click()
    await waitFor('names in reverse order', async () => {
      const shown = await names()
      return shown.length > 2 && shown.join() === folded(shown).reverse().join()
    })

    // A grid of the same files.
    await page.getByRole('button', { name: 'Grid', exact: true }).click()
    await page.locator('ul.grid li.card', { hasText: 'alpha plan.txt' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'grid.png'), fullPage: true })
    await page.getByRole('button', { name: 'List', exact: true }).click()

    // Two files selected: download links for both, then both moved into a folder.
    await page.getByLabel('Select alpha plan.txt').check()
    await page.getByLabel('Select zeta notes.txt').check()
    const bar = page.getByRole('toolbar', { name: 'Selected files' })
    await bar.getByText('2 selected').waitFor()
    await bar.getByRole('button', { name: 'Download links' }).click()
    const links = page.getByRole('dialog')
    await links.getByRole('link', { name: 'alpha plan.txt' }).waitFor()
    const href = await links.getByRole('link', { name: 'zeta notes.txt' }).getAttribute('href')
    if ((await (await fetch(href)).text()) !== 'hello') throw new Error('a download link does not serve the file')
    await page.screenshot({ path: join(ARTIFACTS, 'links.png'), fullPage: true })
    await links.getByRole('button', { name: 'Close' }).click()
    await bar.getByRole('button', { name: 'Move to…' }).click()
    const to = page.getByRole('dialog')
    await to.getByLabel('To folder').fill('/archive')
    await to.getByRole('button', { name: 'Move', exact: true }).click()
    await row('alpha plan.txt').waitFor({ state: 'detached' })
    await row('zeta notes.txt').waitFor({ state: 'detached' })
    for (const name of ['alpha plan.txt', 'zeta notes.txt']) {
      if ((await recordNamed(name)).directory !== '/archive') throw new Error(`${name} is not in /archive`)
    }

    // A folder dragged onto another moves with its files.
    await page.getByRole('button', { name: 'Open folder reports' }).dragTo(page.getByRole('button', { name: 'Open folder archive' }))
    await page.getByRole('button', { name: 'Open folder reports' }).waitFor({ state: 'detached' })
    if ((await recordNamed('Q3 Report 2026.txt')).directory !== '/archive/reports') throw new Error('the folder did not move')
    await page.getByRole('button', { name: 'Open folder archive' }).click()
    await page.getByRole('button', { name: 'Open folder reports' }).waitFor()
    await row('alpha plan.txt').waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'file-manager.png'), fullPage: true })
    await page.locator('nav.crumbs').getByRole('link', { name: 'All files' }).click()
    await row('big.bin').waitFor()
    const missing = await unlabelledControls()
    if (missing.length) throw new Error(`controls without a label: ${missing.join('\n')}`)
  })

  await step('sign out, and in again by pasting a token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await page.getByLabel('Bearer token').fill('not-a-token')
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByRole('alert').filter({ hasText: 'The API refused the token' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'sign-in.png'), fullPage: true })
    await page.getByLabel('Bearer token').fill(acme)
    await page.getByLabel('Bearer token').press('Enter')
    await page.locator('#who', { hasText: 'acme / alice' }).waitFor()
    await row('big.bin').waitFor()
  })

  await step('sign in with OpenID Connect (authorization code + PKCE)', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('button', { name: `Sign in with ${new URL(issuer).host}` }).click()
    await page.locator('#who', { hasText: 'acme / oidc-user' }).waitFor()
    if (page.url() !== consoleUrl) throw new Error(`the code stays in the address bar: ${page.url()}`)
    await row('big.bin').waitFor()
  })

  // Expected: 401 (the refused token), 404 (the cancelled upload's parts), 412 (the conflict).
  const unexpected = consoleErrors.filter((e) => !/(401|404|412) \((Unauthorized|Not Found|Precondition Failed)\)/.test(e))
  if (unexpected.length > 0) fail(`errors in the browser console:\n${unexpected.join('\n')}`)
  console.log(`browser: the console passed (screenshots in ${ARTIFACTS})`)
} finally {
  await browser.close()
}
// Ends the run: the exit handlers stop stowage-local and remove its data dir.
process.exit(0)
