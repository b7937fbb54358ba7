// The package as an app gets it: `npm pack`, installed offline into a scratch project with
// nothing else, its types compiled by a strict consumer, and the README's examples (taken from
// the README, so the two cannot drift) run against a stowage-local.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { SDK, WEB, localWithClients } from './support.mjs'

const { local, token, admin } = await localWithClients()
const scratch = mkdtempSync(join(tmpdir(), 'stowage-sdk-pack-'))
after(() => rmSync(scratch, { recursive: true, force: true }))
// npm with a cache of its own, offline: nothing may come from a registry.
const npmEnv = { ...process.env, npm_config_cache: join(scratch, 'npm-cache'), npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
const npm = (args, cwd) => execFileSync('npm', args, { cwd, env: npmEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

/** The fenced block after `<!-- example: NAME … -->` in the README. */
function readmeExample(name) {
  const readme = readFileSync(join(SDK, 'README.md'), 'utf8')
  const match = new RegExp(`<!-- example: ${name.replace('.', '\\.')}[^>]*-->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\\n\`\`\``).exec(readme)
  assert.ok(match, `README.md has no example ${name}`)
  return match[1]
}

test('npm pack makes a tarball that installs offline and runs the README examples', async () => {
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', scratch], SDK))
  assert.equal(packed.filename, 'stowage-client-0.1.0.tgz')
  const files = packed.files.map((f) => f.path).sort()
  assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts') && files.includes('README.md'), files.join())
  assert.deepEqual(files.filter((f) => !/^(dist\/.*\.(js|d\.ts)|README\.md|package\.json)$/.test(f)), [], 'nothing but the build, the README and package.json')

  const app = join(scratch, 'app')
  execFileSync('mkdir', ['-p', app])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }))
  npm(['install', join(scratch, packed.filename)], app)
  assert.deepEqual(readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.')), ['@stowage'], 'no other package')
  assert.ok(existsSync(join(app, 'node_modules/@stowage/client/dist/index.d.ts')))

  // The installed types, as a strict TypeScript app reads them.
  writeFileSync(join(app, 'consumer.ts'), readFileSync(join(SDK, 'test/types/consumer.ts')))
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, exactOptionalPropertyTypes: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: [] },
    files: ['consumer.ts'],
  }))
  execFileSync(join(WEB, 'node_modules/.bin/tsc'), ['-p', app], { encoding: 'utf8' })

  writeFileSync(join(app, 'example.mjs'), readmeExample('example.mjs'))
  const out = execFileSync(process.execPath, ['example.mjs'], {
    cwd: app,
    env: { ...process.env, STOWAGE_ENDPOINT: local.endpoint, STOWAGE_TOKEN: token },
    encoding: 'utf8',
  })
  assert.match(out, /^uploaded: [0-9A-Z]{26} uploaded 15$/m)
  assert.match(out, /^sent 15 of 15 bytes$/m)
  assert.match(out, /^purpose: greeting version: \d+$/m)
  assert.match(out, /^listed: hello\.txt$/m)
  assert.match(out, /^downloaded: hello, stowage$/m)
  assert.match(out, /^refused: 412 version_mismatch - /m)
  assert.match(out, /^deleted: /m)

  // Versions and trash, in the collection the example's text says an app made.
  await admin.collections.create({ name: 'docs', versions: 10, trashDays: 30 })
  writeFileSync(join(app, 'versions.mjs'), readmeExample('versions.mjs'))
  const versions = execFileSync(process.execPath, ['versions.mjs'], {
    cwd: app,
    env: { ...process.env, STOWAGE_ENDPOINT: local.endpoint, STOWAGE_TOKEN: token },
    encoding: 'utf8',
  })
  assert.match(versions, /^version: \d+ current 8\nversion: \d+ kept 8$/m)
  assert.match(versions, /^old: draft 1$/m)
  assert.match(versions, /^now: draft 1$/m)
  assert.match(versions, /^in the trash: notes\.txt until \d{4}-\d\d-\d\dT/m)
  assert.match(versions, /^restored: uploaded$/m)
  assert.match(versions, /^refused: 409 current_version$/m)
  assert.match(versions, /^deleted for good: [0-9A-Z]{26}$/m)
})
