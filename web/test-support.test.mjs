// Which playwright-core drives which Chromium (test-support.mjs `choosePlaywright`): the day
// Debian ships a Chromium major that no pinned playwright-core was released for, the browser
// tests go on with the nearest one and say so, instead of stopping everyone's CI.
//
//   node --test web/test-support.test.mjs
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { choosePlaywright, installedPlaywrights } from './test-support.mjs'

const pinned = [
  { name: 'playwright-core-153', version: '1.63.0', chromiumMajor: 153 },
  { name: 'playwright-core', version: '1.64.1', chromiumMajor: 156 },
]

test('the playwright-core released for the Chromium major is chosen, without a warning', () => {
  const { choice, warning } = choosePlaywright(156, '156.0.8078.114', pinned)
  assert.equal(choice.version, '1.64.1')
  assert.equal(warning, null)
  assert.equal(choosePlaywright(153, '153.0.1', pinned).choice.version, '1.63.0')
})

test('a newer Chromium gets the newest pinned playwright-core, with a warning naming both', () => {
  const { choice, warning } = choosePlaywright(157, '157.0.8100.5', pinned)
  assert.equal(choice.version, '1.64.1')
  assert.match(warning, /Chromium 157\.0\.8100\.5/)
  assert.match(warning, /playwright-core 1\.64\.1 \(released for Chromium 156\)/)
})

test('between two pins the nearer wins, and the newer of two equally near', () => {
  assert.equal(choosePlaywright(154, '154.0.1', pinned).choice.version, '1.63.0')
  assert.equal(choosePlaywright(155, '155.0.1', pinned).choice.version, '1.64.1')
  assert.equal(choosePlaywright(140, '140.0.1', pinned).choice.version, '1.63.0')
})

test('no playwright-core installed is an error that says what to run', () => {
  assert.throws(() => choosePlaywright(156, '156.0.1', []), /npm ci --prefix web/)
})

test('the installed playwright-core packages are found with the Chromium they were made for', () => {
  const installed = installedPlaywrights()
  assert.ok(installed.length > 0, 'web/node_modules holds a playwright-core')
  for (const p of installed) {
    assert.match(p.version, /^\d+\.\d+\.\d+$/)
    assert.ok(p.chromiumMajor > 100, `${p.name}: Chromium ${p.chromiumMajor}`)
  }
})
