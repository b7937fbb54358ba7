#!/usr/bin/env python3
"""Runs the shell blocks of the README and the docs, in order, as a newcomer would paste them.

Every ```sh block of README.md, then of every page of docs/src/SUMMARY.md in its order, runs in
one bash process (`set -euo pipefail`, so variables and the working directory carry from one
block to the next, as in a terminal), starting in the repository. A block may be preceded by a
directive comment:

    <!-- readme-test: skip: REASON -->       not run (an AWS account, the test command itself);
                                             the reason is printed
    <!-- readme-test: background URL -->     started in the background (a server: the quick
                                             start's first terminal); the run goes on once URL
                                             answers, and the process is stopped at the end
    <!-- readme-test: file NAME -->          (before a non-sh block, e.g. js or html) the
                                             block's text is written to NAME in the current
                                             directory, as a reader saving it would

The quick start keeps its data in the repository's ./.stowage and serves on 127.0.0.1:4600, as
written; an existing ./.stowage is moved aside for the run and put back afterwards, and a busy
port 4600 fails the run before anything starts. Fails (exit 1) naming the page and line of the
first block that fails, or of any block whose output holds an API error answer (problem+json).
`scripts/docs_check.py` holds every `curl` of a run block to `-f` (or to printing the status),
so an HTTP error also fails its block.

    python3 scripts/readme_test.py [--page README.md ...]   (default: the README, then the docs)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(skip|background|file)\b:?\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


def blocks(readme: Path):
    """(line, lang, directive, argument, text) for every fenced block of the README."""
    lines = readme.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent, lang, start = len(fence.group(1)), fence.group(2), i + 1
        j = start
        while j < len(lines) and not lines[j].strip().startswith("```"):
            j += 1
        directive = argument = None
        k = i - 1
        while k >= 0 and lines[k].strip() == "":
            k -= 1
        if k >= 0 and (m := DIRECTIVE.match(lines[k].strip())):
            directive, argument = m.group(1), m.group(2)
        # A block inside a list item is indented as the item is.
        text = "\n".join(line[indent:] if line[:indent].isspace() else line for line in lines[start:j])
        yield start, lang, directive, argument, text
        i = j + 1


def pages() -> list[Path]:
    """README.md, then every page of docs/src/SUMMARY.md in its order."""
    summary = ROOT / "docs" / "src" / "SUMMARY.md"
    found = [ROOT / "README.md"]
    for link in re.findall(r"\]\(([^)#]+\.md)\)", summary.read_text(encoding="utf-8")):
        found.append(summary.parent / link)
    return found


def script(readmes: list[Path], logs: Path) -> tuple[str, list[str], int]:
    """The bash script that runs the blocks; the skipped blocks; how many blocks run."""
    out = [
        "set -euo pipefail",
        f"cd {quote(str(ROOT))}",
        "readme_wait() {  # URL LOG: until URL answers, or 15 minutes (a first cargo build)",
        "  local deadline=$((SECONDS + 900))",
        "  until curl -s -o /dev/null \"$1\"; do",
        "    if [ $SECONDS -gt $deadline ]; then cat \"$2\" >&2; echo \"readme-test: $1 never answered\" >&2; return 1; fi",
        "    sleep 0.5",
        "  done",
        "}",
    ]
    skipped, ran = [], 0
    for readme, (line, lang, directive, argument, text) in (
        (readme, block) for readme in readmes for block in blocks(readme)
    ):
        where = f"{readme.relative_to(ROOT)}:{line}"
        if directive == "file":
            out.append(f"echo '--- {where}: writes {argument}'")
            out.append(f"cat > {quote(argument)} <<'README_TEST_EOF'\n{text}\nREADME_TEST_EOF")
            continue
        if lang != "sh":
            continue
        if directive == "skip":
            skipped.append(f"{where}: {argument}")
            continue
        ran += 1
        out.append(f"echo '--- {where}'")
        if directive == "background":
            log = logs / f"background-{readme.stem}-{line}.log"
            out.append(f"( {text}\n) > {quote(str(log))} 2>&1 &")
            out.append(f"readme_wait {quote(argument)} {quote(str(log))}")
        else:
            out.append(text)
    out.append("echo '--- every block ran'")
    return "\n".join(out) + "\n", skipped, ran


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # As the servers themselves bind: a port whose old connections linger is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop(group: int) -> None:
    """Stops whatever the blocks left running (the background servers and their children): the
    script runs in a session of its own, and without job control every process it starts stays
    in its process group, even after the script itself has ended."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--page", action="append", help="a page to run (repeatable)")
    args = parser.parse_args()
    readmes = [Path(p).resolve() for p in args.page] if args.page else pages()
    for port in (4600, 8000):
        if not port_free(port):
            print(f"readme-test: port {port} is in use; the README's examples need it", file=sys.stderr)
            return 1
    logs = Path(tempfile.mkdtemp(prefix="stowage-readme-"))
    text, skipped, ran = script(readmes, logs)
    (logs / "readme.sh").write_text(text)
    data = ROOT / ".stowage"
    aside = ROOT / f".stowage.before-readme-test-{os.getpid()}"
    if data.exists():
        print(f"readme-test: moving the existing {data} to {aside} for the run")
        data.rename(aside)
    started = time.monotonic()
    problems: dict[str, str] = {}
    run = None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("STOWAGE_")}
        # curl -s exits 0 on an HTTP error, so the output is read too: an API answer that is a
        # problem (urn:stowage:problem:…) means the example did not do what the README says.
        run = subprocess.Popen(["bash", str(logs / "readme.sh")], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace",
                               start_new_session=True)
        block = "?"
        for line in run.stdout:
            sys.stdout.write(line)
            if line.startswith("--- "):
                block = line.split()[1].rstrip(":")
            elif "urn:stowage:problem:" in line and block not in problems:
                problems[block] = line.strip()[:300]
        returncode = run.wait()
    finally:
        if run is not None:
            stop(run.pid)
        shutil.rmtree(data, ignore_errors=True)
        if aside.exists():
            aside.rename(data)
    for note in skipped:
        print(f"readme-test: not run: {note}")
    if returncode != 0:
        print(f"readme-test: a block failed (exit {returncode}); the script is "
              f"{logs / 'readme.sh'}, the servers' output in {logs}", file=sys.stderr)
        return 1
    for block, line in problems.items():
        print(f"readme-test: the block at {block} got an error answer: {line}",
              file=sys.stderr)
    if problems:
        return 1
    print(f"readme-test: the blocks took {time.monotonic() - started:.0f} s")
    print(f"readme-test: {ran} passed, 0 failed, {len(skipped)} skipped")
    shutil.rmtree(logs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
