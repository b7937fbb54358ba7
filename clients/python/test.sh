#!/usr/bin/env bash
# The Python client's one test command. Needs python3.11 and STOWAGE_LOCAL_BIN (a stowage-local
# binary); nothing else, and nothing is skipped:
#
#   1. (re)creates .venv-test with exactly requirements-test.txt unless it already holds those
#      pins (a stamp of the requirements' hash), and downloads requirements-wheelhouse.txt into
#      .venv-test/wheelhouse for the installed-wheel test
#   2. mypy --strict over the package, the tests and the benchmark
#   3. pytest: every test against a stowage-local of its own (fresh data dir, free port), the
#      retry tests against a stub server, and tests/test_package.py, which builds the sdist and
#      the wheel (python -m build), installs the wheel into a scratch venv and runs the README's
#      example with it
#
#   STOWAGE_LOCAL_BIN=/path/to/stowage-local clients/python/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
PYTHON="${PYTHON:-python3.11}"
VENV="$HERE/.venv-test"

die() { printf '\nclients/python/test.sh: %s\n' "$*" >&2; exit 1; }
step() { printf '\n==> [%ds] %s\n' "$SECONDS" "$*"; }

[ -n "${STOWAGE_LOCAL_BIN:-}" ] || die "set STOWAGE_LOCAL_BIN to a stowage-local binary (the tests run against a real server)"
[ -x "$STOWAGE_LOCAL_BIN" ] || die "STOWAGE_LOCAL_BIN=$STOWAGE_LOCAL_BIN is not executable"
STOWAGE_LOCAL_BIN=$(cd "$(dirname "$STOWAGE_LOCAL_BIN")" && pwd)/$(basename "$STOWAGE_LOCAL_BIN")
export STOWAGE_LOCAL_BIN
command -v "$PYTHON" >/dev/null || die "$PYTHON is missing"

step "pinned venv $VENV"
want=$(cat requirements-test.txt requirements-wheelhouse.txt | sha256sum | cut -d' ' -f1)
stamp="$VENV/.stowage-requirements"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "cannot create a venv with $PYTHON"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-test.txt \
    || die "pip could not install requirements-test.txt"
  "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    -r requirements-wheelhouse.txt -d "$VENV/wheelhouse" \
    || die "pip could not download requirements-wheelhouse.txt"
  echo "$want" > "$stamp"
  echo "created"
else
  echo "up to date"
fi
export STOWAGE_WHEELHOUSE="$VENV/wheelhouse"

step "mypy --strict (the package, the tests, the benchmark)"
"$VENV/bin/mypy" --strict src tests bench_transfer.py

step "pytest (stowage-local: $STOWAGE_LOCAL_BIN)"
"$VENV/bin/python" -m pytest -p no:cacheprovider "$@"

step "done in ${SECONDS}s"
