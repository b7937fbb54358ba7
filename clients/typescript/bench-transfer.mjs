#!/usr/bin/env node
// Measures one transfer through the SDK (a benchmark, not a test): uploads --file with
// files.upload (parts of --part-size-mib, --parallel in flight), downloads it back to a file
// with files.download, checks the size, deletes the record, and prints
// {"upload_seconds", "download_seconds", "peak_rss_mib"} as one JSON line.
//
//   node clients/typescript/bench-transfer.mjs --endpoint http://127.0.0.1:4600 --token "$TOKEN" \
//     --file big.bin --part-size-mib 16 --parallel 4 [--out copy.bin] [--keep]
import { createWriteStream, rmSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { Stowage } from './dist/index.js'

const { values } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    token: { type: 'string' },
    file: { type: 'string' },
    'part-size-mib': { type: 'string', default: '16' },
    parallel: { type: 'string', default: '4' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
for (const name of ['endpoint', 'token', 'file']) {
  if (!values[name]) {
    console.error(`bench-transfer: --${name} is required`)
    process.exit(2)
  }
}
const size = statSync(values.file).size
const out = values.out ?? `${values.file}.download`
const stowage = new Stowage({ endpoint: values.endpoint, token: values.token })

let started = performance.now()
const file = await stowage.files.upload(values.file, { name: basename(values.file), mimeType: 'application/octet-stream' }, {
  partSize: Number(values['part-size-mib']) * 1024 * 1024,
  parallel: Number(values.parallel),
})
const uploadSeconds = (performance.now() - started) / 1000

started = performance.now()
await pipeline(Readable.fromWeb(await stowage.files.download(file.id)), createWriteStream(out))
const downloadSeconds = (performance.now() - started) / 1000

const got = statSync(out).size
if (got !== size) {
  console.error(`bench-transfer: downloaded ${got} bytes, not ${size}`)
  process.exit(1)
}
await stowage.files.delete(file.id)
if (!values.keep) rmSync(out)
console.log(JSON.stringify({
  upload_seconds: Number(uploadSeconds.toFixed(3)),
  download_seconds: Number(downloadSeconds.toFixed(3)),
  // maxRSS is in KiB.
  peak_rss_mib: Number((process.resourceUsage().maxRSS / 1024).toFixed(1)),
}))
