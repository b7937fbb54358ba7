#!/usr/bin/env python3
"""Checks that the README and the docs stay true to the repository and readable.

Offline and dependency-free (part of the test command; under a second):

- every relative link of README.md, docs/src, the project files and the package READMEs
  resolves, anchors included (GitHub's heading ids); external links are counted, not fetched;
- every page under docs/src is in docs/src/SUMMARY.md, and every page SUMMARY.md lists exists;
- every backticked repository path (`shared/src/config.rs`, `scripts/test`) exists;
- the repository speaks of itself only: no references to outside documents or to development
  history in any tracked text file;
- every `curl` of a shell block that the docs test runs fails on an HTTP error (`-f`, `--fail`)
  or prints the status it shows (`-w '%{http_code}'`);
- README.md is at most 250 lines, and none of its sentences runs over 60 words.

    python3 scripts/docs_check.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250
SENTENCE_MAX_WORDS = 60

# Words that point outside the repository or into its development history.
FORBIDDEN = [
    (re.compile(r"\bSPEC\s*(§\s*)?\d+"), "a section of a document outside the repository"),
    (re.compile(r"\bspec section\b", re.I), "a section of a document outside the repository"),
    (re.compile(r"\b(this|previous|earlier|next|last) stop\b", re.I), "development history"),
    (re.compile(r"\bissue #?\d+\b", re.I), "an issue number"),
    (re.compile(r"\.\./shared/"), "a folder outside the repository"),
    (re.compile(r"first-contact review|the review found", re.I), "development history"),
]
# The products Stowage maps from are named on one page only.
PRODUCTS = re.compile(r"\b(Jexia|Twake|Cognite|EVRYTHNG)\b")
PRODUCTS_PAGE = "docs/src/guides/coming-from.md"
# A commit hash in prose ("at 3014c5b", "commit c97f54b").
COMMIT = re.compile(r"\b(commit|at|in)\s+`?[0-9a-f]{7,40}`?\b")

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*```")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(skip|background|file)\b")
BACKTICK = re.compile(r"`([^`\s]+)`")


def tracked() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return [p for p in out.split("\n") if p and (ROOT / p).is_file()]


def markdown_pages(files: list[str]) -> list[str]:
    pages = [p for p in files if p.startswith("docs/src/") and p.endswith(".md")]
    pages += [p for p in ("README.md", "CONTRIBUTING.md", "SECURITY.md", "CHANGELOG.md") if p in files]
    pages += [p for p in files if re.fullmatch(r"(clients|web)/[^/]+/README\.md", p)]
    pages += [p for p in files if p.startswith("bench/") and p.endswith(".md")]
    return sorted(set(pages))


def prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    inside = False
    for n, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            yield n, line


def slug(heading: str) -> str:
    """GitHub's heading id: lowercase, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path, cache: dict) -> set[str]:
    if path not in cache:
        seen: dict[str, int] = {}
        found = set()
        for _, line in prose_lines(path.read_text(encoding="utf-8")):
            if m := HEADING.match(line):
                base = slug(m.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
            for m in re.finditer(r"<a\s+(?:id|name)=\"([^\"]+)\"", line):
                found.add(m.group(1))
        cache[path] = found
    return cache[path]


def check_links(pages: list[str], problems: list[str]) -> int:
    cache: dict = {}
    external = 0
    for page in pages:
        path = ROOT / page
        for n, line in prose_lines(path.read_text(encoding="utf-8")):
            for m in LINK.finditer(line):
                target = m.group(1) or m.group(2)
                if re.match(r"^[a-z]+:", target):
                    external += 1
                    continue
                file, _, anchor = target.partition("#")
                dest = (path.parent / file).resolve() if file else path
                if not dest.exists():
                    problems.append(f"{page}:{n}: link to {target}: no such file")
                    continue
                if anchor and dest.suffix == ".md" and anchor not in anchors(dest, cache):
                    problems.append(f"{page}:{n}: link to {target}: no such heading")
    return external


def check_summary(files: list[str], problems: list[str]) -> None:
    summary = ROOT / "docs/src/SUMMARY.md"
    listed = set()
    for n, line in enumerate(summary.read_text(encoding="utf-8").split("\n"), 1):
        for target in re.findall(r"\]\(([^)]+)\)", line):
            listed.add((summary.parent / target).resolve())
    for page in files:
        if page.startswith("docs/src/") and page.endswith(".md") and page != "docs/src/SUMMARY.md":
            if (ROOT / page).resolve() not in listed:
                problems.append(f"{page}: not in docs/src/SUMMARY.md")


def check_paths(pages: list[str], files: list[str], problems: list[str]) -> None:
    tops = {p.split("/")[0] for p in files}
    dirs = {str(Path(p).parent) for p in files}
    for page in pages:
        for n, line in prose_lines((ROOT / page).read_text(encoding="utf-8")):
            for token in BACKTICK.findall(line):
                token = token.rstrip(".,:;")
                if "/" not in token or token.split("/")[0] not in tops:
                    continue
                if re.search(r"[<>*{}$…]|\.\.\.", token):
                    continue  # a pattern, not a path
                path = token.split(":")[0].rstrip("/")
                if path not in files and path not in dirs and not any(d.startswith(path + "/") for d in dirs):
                    problems.append(f"{page}:{n}: `{token}`: no such file in the repository")


def check_words(files: list[str], problems: list[str]) -> None:
    for page in files:
        if page == "scripts/docs_check.py" or page.endswith((".png", ".jpg", ".ico", ".lock")):
            continue
        if page.startswith("clients/typescript/package-lock") or page == "web/package-lock.json":
            continue
        try:
            text = (ROOT / page).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.split("\n"), 1):
            for pattern, what in FORBIDDEN:
                if m := pattern.search(line):
                    problems.append(f"{page}:{n}: \"{m.group(0)}\" refers to {what}")
            if page != PRODUCTS_PAGE and (m := PRODUCTS.search(line)):
                problems.append(f"{page}:{n}: \"{m.group(0)}\" is named only in {PRODUCTS_PAGE}")
            if page.endswith(".md") and (m := COMMIT.search(line)):
                problems.append(f"{page}:{n}: \"{m.group(0)}\" names a commit (history stays in git)")


def run_blocks(text: str):
    """(line, text) of the ```sh blocks the docs test runs (not skipped)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^\s*```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith("```"):
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        skipped = k >= 0 and re.match(r"^<!--\s*readme-test:\s*skip\b", lines[k].strip())
        if m.group(1) == "sh" and not skipped:
            yield i + 2, "\n".join(lines[i + 1:j])
        i = j + 1


def curl_fails_on_errors(command: str) -> bool:
    args = command.split()
    if any(arg in ("--fail", "--fail-with-body") or re.fullmatch(r"-[a-zA-Z]*f[a-zA-Z]*", arg)
           for arg in args):
        return True
    return bool(re.search(r"(^|\s)(-w|--write-out)\s", command)) and "http_code" in command


def check_curls(pages: list[str], problems: list[str]) -> None:
    for page in pages:
        for start, block in run_blocks((ROOT / page).read_text(encoding="utf-8")):
            joined = block.replace("\\\n", " ")
            for line in joined.split("\n"):
                code = line.split(" #")[0]
                for m in re.finditer(r"(?:^|[\s$(|;&])curl\s([^|;&)]*)", code):
                    if not curl_fails_on_errors(m.group(1)):
                        problems.append(f"{page}:{start}: a curl in this block neither fails on an "
                                        f"HTTP error (-f) nor prints the status: curl {m.group(1).strip()[:80]}")


def sentences(text: str):
    """(line, words) of each prose sentence: code, tables, headings and comments left out."""
    para: list[tuple[int, str]] = []
    for n, line in list(prose_lines(text)) + [(0, "")]:
        s = line.strip()
        if not s or s.startswith(("#", "|", "<!--", "```", "- ", "* ", "> ")) or re.match(r"^\d+\. ", s):
            if para:
                joined = " ".join(p for _, p in para)
                joined = re.sub(r"`[^`]*`", "CODE", joined)
                joined = re.sub(r"\]\([^)]*\)", "]", joined)
                for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z`*\[(])", joined):
                    yield para[0][0], len(sentence.split())
            para = []
            if s.startswith(("- ", "* ", "> ")) or re.match(r"^\d+\. ", s):
                para = [(n, re.sub(r"^(- |\* |> |\d+\. )", "", s))]
            continue
        para.append((n, s))


def main() -> int:
    files = tracked()
    pages = markdown_pages(files)
    problems: list[str] = []
    external = check_links(pages, problems)
    check_summary(files, problems)
    check_paths(pages, files, problems)
    check_words(files, problems)
    run_pages = ["README.md"] + [p for p in pages if p.startswith("docs/src/")]
    check_curls(run_pages, problems)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if (count := len(readme.rstrip("\n").split("\n"))) > README_MAX_LINES:
        problems.append(f"README.md: {count} lines; at most {README_MAX_LINES}")
    for n, words in sentences(readme):
        if words > SENTENCE_MAX_WORDS:
            problems.append(f"README.md:{n}: a sentence of {words} words; at most {SENTENCE_MAX_WORDS}")
    long_ones = sum(1 for p in pages if p.startswith("docs/") for _, w in
                    sentences((ROOT / p).read_text(encoding="utf-8")) if w > SENTENCE_MAX_WORDS)
    for problem in problems:
        print(f"docs-check: {problem}", file=sys.stderr)
    if long_ones:
        print(f"docs-check: warning: {long_ones} sentences in docs/ run over {SENTENCE_MAX_WORDS} words")
    if problems:
        print(f"docs-check: {len(problems)} problems", file=sys.stderr)
        return 1
    print(f"docs-check: {len(pages)} pages, {external} external links (not fetched), all else holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
