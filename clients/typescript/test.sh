#!/usr/bin/env bash
# The TypeScript SDK's whole check, one command (needs only STOWAGE_LOCAL_BIN; installs the
# pinned npm packages from web/package-lock.json when they are missing):
#
#   1. src/openapi.ts is what openapi-typescript generates from openapi.yaml (the SDK's types
#      cannot drift from the contract);
#   2. dist/ is what tsc builds from src/ (the console and the Uppy adapter bundle dist/);
#   3. a strict consumer of the types compiles against dist/;
#   4. the tests, with node's test runner, each file against a stowage-local of its own: file
#      operations, abort and resume, retries (a stub server), collections and usage, subscribe,
#      the browser build in Debian's Chromium, and npm pack + the README's example.
#
#   STOWAGE_LOCAL_BIN=target/debug/stowage-local clients/typescript/test.sh
#
# Any step that cannot run fails the whole script; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")"
SDK=$PWD
REPO=$(cd ../.. && pwd)
WEB=$REPO/web
BIN=$WEB/node_modules/.bin
started=$SECONDS

step() { printf '\n==> [%ds] %s\n' $((SECONDS - started)) "$*"; }
die() { printf '\nclients/typescript/test.sh: %s\n' "$*" >&2; exit 1; }

[ -n "${STOWAGE_LOCAL_BIN:-}" ] || die "set STOWAGE_LOCAL_BIN to the stowage-local binary (the tests run against a real one)"
[ -x "$STOWAGE_LOCAL_BIN" ] || die "STOWAGE_LOCAL_BIN=$STOWAGE_LOCAL_BIN is not an executable"
export STOWAGE_LOCAL_BIN
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || die "Debian's Chromium is missing (apt-get install chromium; scripts/test installs it)"

if [ ! -x "$BIN/tsc" ] || [ ! -x "$BIN/openapi-typescript" ] || [ ! -d "$WEB/node_modules/ws" ] || [ ! -e "$WEB/node_modules/@stowage/client" ]; then
  step "npm ci --prefix web (the pinned packages are missing)"
  npm ci --prefix "$WEB" --no-audit --no-fund
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

step "src/openapi.ts is what openapi-typescript generates from openapi.yaml"
"$BIN/openapi-typescript" "$REPO/openapi.yaml" -o "$scratch/openapi.ts" --silent
diff -u src/openapi.ts "$scratch/openapi.ts" \
  || die "src/openapi.ts differs from openapi.yaml's: run \`$BIN/openapi-typescript openapi.yaml -o clients/typescript/src/openapi.ts\`, then build and commit"

step "tsc: dist/ is what src/ builds (strict)"
"$BIN/tsc" -p tsconfig.json --outDir "$scratch/dist"
diff -r dist "$scratch/dist" \
  || die "dist/ is not what src/ builds: run \`npm run --prefix clients/typescript build\` and commit dist/"

step "a strict consumer of the types compiles against dist/"
"$BIN/tsc" -p test/types/tsconfig.json

step "node --test (each file against a stowage-local of its own; screenshots in target/browser/sdk)"
node --test test/*.test.mjs

step "clients/typescript: all checks passed in $((SECONDS - started)) s"
