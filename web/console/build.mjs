// Builds the console into dist/ (index.html, console.js, console.css): everything the page
// loads, bundled from the lockfile's packages, so Stowage serves it with no CDN and
// `cargo run -p stowage-local` needs no Node. dist/ is committed; scripts/test rebuilds it and
// fails if the result differs from what is committed. Prints the page weight (gzipped).
//
//   node build.mjs [--out DIR]     (default: dist/)
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const HERE = dirname(fileURLToPath(import.meta.url))
const outAt = process.argv.indexOf('--out')
const DIST = outAt > 0 ? resolve(process.argv[outAt + 1]) : join(HERE, 'dist')
/** The page weighs at most this much, gzipped. */
const BUDGET = 400 * 1024

mkdirSync(DIST, { recursive: true })
const common = { bundle: true, minify: true, legalComments: 'none', logLevel: 'warning', charset: 'utf8' }
await build({
  ...common,
  entryPoints: [join(HERE, 'src/main.js')],
  outfile: join(DIST, 'console.js'),
  format: 'esm',
  target: ['es2022'],
})
await build({
  ...common,
  entryPoints: [join(HERE, 'src/style.css')],
  outfile: join(DIST, 'console.css'),
  // Uppy's stylesheets embed their icons; nothing is fetched from elsewhere.
  loader: { '.svg': 'dataurl', '.png': 'dataurl' },
})
copyFileSync(join(HERE, 'src/index.html'), join(DIST, 'index.html'))

let total = 0
for (const name of ['index.html', 'console.js', 'console.css']) {
  const bytes = readFileSync(join(DIST, name))
  const gzipped = gzipSync(bytes, { level: 9 }).length
  total += gzipped
  console.log(`${name.padEnd(12)} ${String(bytes.length).padStart(8)} bytes, ${String(gzipped).padStart(7)} gzipped`)
}
console.log(`page weight  ${String(total).padStart(17)} bytes gzipped (budget ${BUDGET})`)
if (total > BUDGET) {
  console.error(`the console weighs ${total} bytes gzipped, over the ${BUDGET} budget`)
  process.exit(1)
}
