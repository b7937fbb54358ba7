// What the browser tests of web/ share: Debian's Chromium driven by the pinned playwright-core
// that fits its major version best, a stowage-local of their own, waiting, deterministic bytes, and named
// steps that leave a screenshot each (and one of the moment of a failure).
import { execFileSync, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const MIB = 1024 * 1024
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

/** Ends the test run with `message` (the `exit` handlers stop what was started). */
export function fail(message) {
  console.error(`\nbrowser test: ${message}`)
  process.exit(1)
}

/** The stowage-local binary the test runs (`STOWAGE_LOCAL_BIN`). */
export function localBinary() {
  const bin = process.env.STOWAGE_LOCAL_BIN
  if (!bin) fail('set STOWAGE_LOCAL_BIN to the stowage-local binary')
  return resolve(bin)
}

/** Deterministic bytes (the pages generate the same with the same formula). */
export function bytes(size, seed) {
  const data = Buffer.alloc(size)
  for (let i = 0; i < size; i++) data[i] = ((Math.floor(i / 1013) * 31 + seed) ^ (i % 251)) & 0xff
  return data
}

/** Polls `check` until it returns something truthy; throws after `seconds`. */
export async function waitFor(what, check, seconds = 30) {
  const deadline = Date.now() + seconds * 1000
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((ok) => setTimeout(ok, 100))
  }
}

/**
 * Starts `stowage-local` on a free loopback port with a fresh data dir. Resolves with its
 * endpoint, the lines it printed on start-up, a `token(tenant, user, scope?, groups?)` minter and its data dir.
 */
export async function startLocal({ env = {}, args = [] } = {}) {
  const bin = localBinary()
  const dataDir = mkdtempSync(join(tmpdir(), 'stowage-browser-'))
  let local = null
  // However the test ends (fail() exits at once), the server and its data go with it.
  process.on('exit', () => {
    local?.kill()
    rmSync(dataDir, { recursive: true, force: true })
  })
  /** Starts the server on `addr` and resolves with the lines of its banner. */
  const launch = async (addr) => {
    local = spawn(bin, ['--addr', addr, '--data-dir', dataDir, ...args], {
      env: { ...process.env, RUST_LOG: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const started = local
    const lines = await new Promise((ok, no) => {
      let text = ''
      const onData = (chunk) => {
        text += chunk
        // The banner ends with the `token:` line.
        if (/\n\s*token:.*\n/.test(text)) {
          started.stdout.off('data', onData)
          ok(text.split('\n'))
        }
      }
      started.stdout.on('data', onData)
      started.once('exit', (code) => no(new Error(`stowage-local exited with ${code}: ${text}`)))
    }).catch((err) => fail(err.message))
    started.stdout.resume()
    return lines
  }
  const lines = await launch('127.0.0.1:0')
  const endpoint = /listening on (\S+)/.exec(lines[0])?.[1] ?? fail(`unexpected start: ${lines[0]}`)
  /**
   * A token of `dataDir`; `scope` (space-separated) replaces the default read/write/delete;
   * `groups` are the user's groups.
   */
  const token = (tenant, user, scope, groups = []) =>
    execFileSync(
      bin,
      [
        'token', '--tenant', tenant, '--user', user, '--data-dir', dataDir,
        ...(scope ? ['--scope', scope] : []),
        ...groups.flatMap((g) => ['--group', g]),
      ],
      { encoding: 'utf8' },
    ).trim()
  /** Stops the server and starts it again on the same address and data dir. */
  const restart = async () => {
    const stopping = local
    await new Promise((ok) => {
      stopping.once('exit', ok)
      stopping.kill()
    })
    await launch(new URL(endpoint).host)
  }
  return { endpoint, lines, token, dataDir, restart, get process() { return local } }
}

/**
 * The playwright-core packages installed beside this file (`playwright-core` and any
 * `playwright-core-<n>` alias of web/package.json), each with the Chromium major it was
 * released for (read from its own `browsers.json`).
 */
export function installedPlaywrights(nodeModules = join(dirname(fileURLToPath(import.meta.url)), 'node_modules')) {
  return readdirSync(nodeModules)
    .filter((name) => /^playwright-core(-\d+)?$/.test(name))
    .map((name) => {
      const dir = join(nodeModules, name)
      const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
      const { browsers } = JSON.parse(readFileSync(join(dir, 'browsers.json'), 'utf8'))
      const chromium = browsers.find((b) => b.name === 'chromium')?.browserVersion
      return { name, version, chromiumMajor: Number(/^(\d+)\./.exec(chromium ?? '')?.[1]) }
    })
    .filter((p) => Number.isInteger(p.chromiumMajor))
}

/**
 * Which of `candidates` drives a Chromium of major `major`: the one released for it; else the
 * one released for the nearest major (the newer of two equally near), with a `warning` naming
 * both versions. Debian updates its Chromium under us, so a new major must not stop the tests
 * by itself: CDP changes little from one major to the next, and if it did, the run fails with
 * the warning printed above the failure.
 */
export function choosePlaywright(major, chromiumVersion, candidates) {
  if (candidates.length === 0) throw new Error('no playwright-core is installed in web/node_modules (npm ci --prefix web)')
  const byFit = [...candidates].sort(
    (a, b) => Math.abs(a.chromiumMajor - major) - Math.abs(b.chromiumMajor - major) || b.chromiumMajor - a.chromiumMajor,
  )
  const choice = byFit[0]
  const warning =
    choice.chromiumMajor === major
      ? null
      : `Chromium ${chromiumVersion} has no playwright-core of its own major; driving it with ` +
        `playwright-core ${choice.version} (released for Chromium ${choice.chromiumMajor}), the nearest pinned. ` +
        `If the browser tests fail below, pin the playwright-core released for Chromium ${major} in web/package.json.`
  return { choice, warning }
}

/**
 * Debian's Chromium, headless, through the installed playwright-core that fits its major
 * version best (`choosePlaywright`). A warning is printed, and appended to
 * `$STOWAGE_WARNINGS` (scripts/test prints that file at the end) when the fit is not exact.
 */
export async function launchChromium() {
  const version = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).trim()
  const major = Number(/(\d+)\./.exec(version)?.[1])
  let picked
  try {
    picked = choosePlaywright(major, /[\d.]+/.exec(version)?.[0] ?? version, installedPlaywrights())
  } catch (err) {
    fail(err.message)
  }
  if (picked.warning) {
    console.error(`\nWARNING: ${picked.warning}\n`)
    if (process.env.STOWAGE_WARNINGS) appendFileSync(process.env.STOWAGE_WARNINGS, `browser tests: ${picked.warning}\n`)
  }
  const require = createRequire(import.meta.url)
  const playwright = require(picked.choice.name)
  const browser = await playwright.chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  process.on('exit', () => browser.close().catch(() => {}))
  return browser
}

/** Collects the page's console errors (a test fails on those it does not expect). */
export function consoleErrorsOf(page) {
  const errors = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`))
  return errors
}

/**
 * `step(name, run)` runs one named check, saves a screenshot of the page after it as
 * `<artifacts>/<name>.png`, and ends the run on a failure (with `failure.png`).
 */
export function stepper(page, artifacts) {
  mkdirSync(artifacts, { recursive: true })
  return async function step(name, run) {
    process.stdout.write(`browser: ${name} … `)
    const started = Date.now()
    try {
      await run()
      await page.screenshot({ path: join(artifacts, `${name.replace(/\W+/g, '-')}.png`), fullPage: true })
      console.log(`ok (${((Date.now() - started) / 1000).toFixed(1)} s)`)
    } catch (err) {
      await page.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {})
      console.log('FAILED')
      fail(`${name}: ${err.stack ?? err}`)
    }
  }
}
