"""Packaging: `python -m build` makes the sdist and the wheel; the wheel, installed into a scratch
venv (its dependencies from the pinned wheelhouse test.sh downloads), runs the README's examples
against stowage-local, and ships its type information."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import Server

PROJECT = Path(__file__).resolve().parent.parent
MARKER = "<!-- example: tests/test_package.py runs this block with the installed wheel -->"


def readme_examples() -> list[str]:
    """The README's Python blocks that follow the example marker, verbatim."""
    text = (PROJECT / "README.md").read_text()
    blocks = re.findall(re.escape(MARKER) + r"\n```python\n(.*?)```", text, re.S)
    assert len(blocks) == text.count(MARKER) == 2, "every marked block is a ```python block"
    return blocks


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the backend (hatchling) comes pinned from the test venv, not the network.
    run = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
         "--outdir", str(out), str(PROJECT)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    wheels = list(out.glob("stowage_client-0.1.0-py3-none-any.whl"))
    sdists = list(out.glob("stowage_client-0.1.0.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return wheels[0], sdists[0]


def test_the_wheel_and_sdist_hold_what_they_should(built: tuple[Path, Path]) -> None:
    wheel, sdist = built
    names = zipfile.ZipFile(wheel).namelist()
    for expected in ("stowage/__init__.py", "stowage/py.typed", "stowage/_upload.py",
                     "stowage/_realtime.py", "stowage_client-0.1.0.dist-info/licenses/LICENSE"):
        assert expected in names, names
    assert not any(n.startswith("tests/") for n in names)
    meta = zipfile.ZipFile(wheel).read("stowage_client-0.1.0.dist-info/METADATA").decode()
    assert "License-Expression: Apache-2.0" in meta
    assert "Requires-Python: >=3.10" in meta
    assert re.search(r"Requires-Dist: httpx(<1,>=0\.27|>=0\.27,<1)", meta), meta
    assert "Provides-Extra: realtime" in meta
    with tarfile.open(sdist) as tar:
        members = tar.getnames()
    for expected in ("LICENSE", "README.md", "pyproject.toml", "src/stowage/py.typed"):
        assert f"stowage_client-0.1.0/{expected}" in members, members


def test_the_installed_wheel_runs_the_readme_examples(
    built: tuple[Path, Path], server: Server, tenant: str, tmp_path: Path
) -> None:
    wheelhouse = os.environ.get("STOWAGE_WHEELHOUSE", "")
    assert wheelhouse and Path(wheelhouse).is_dir(), (
        "STOWAGE_WHEELHOUSE must name the pinned wheelhouse (clients/python/test.sh makes it)"
    )
    wheel, _ = built
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--disable-pip-version-check", "--no-index", "--find-links", wheelhouse,
         f"{wheel}[realtime]"],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    work = tmp_path / "work"  # not the source tree: only the installed package can be imported
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(STOWAGE_ENDPOINT=server.endpoint, STOWAGE_TOKEN=server.token(tenant, "alice"))
    where = subprocess.run([str(python), "-c", "import stowage; print(stowage.__file__)"],
                           capture_output=True, text=True, cwd=work, env=env, check=True)
    assert where.stdout.strip().startswith(str(venv)), where.stdout

    short, tour = readme_examples()
    ran = subprocess.run([str(python), "-c", short], capture_output=True, text=True,
                         cwd=work, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26} uploaded 15\n", ran.stdout), ran.stdout

    ran = subprocess.run([str(python), "-c", tour], capture_output=True, text=True,
                         cwd=work, env=env, timeout=120)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.split("\n")
    assert "100%" in ran.stdout
    assert re.search(r"[0-9A-HJKMNP-TV-Z]{26} uploaded 12582912", ran.stdout), ran.stdout
    assert "['big.bin']" in lines, ran.stdout
    assert "412 version_mismatch" in lines, ran.stdout
    assert lines[-2:] == ["True", ""], ran.stdout


def test_the_installed_wheel_carries_its_types(built: tuple[Path, Path], tmp_path: Path) -> None:
    """mypy, pointed at an environment where only the wheel is installed, sees the package's
    annotations (py.typed): a record is a FileRecord, and a misuse is an error."""
    wheel, _ = built
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=120,
    )
    assert install.returncode == 0, install.stderr
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from stowage import Stowage\n"
        "client = Stowage('http://127.0.0.1:1', 't')\n"
        "record = client.files.get('x')\n"
        "reveal_type(record)\n"
        "client.files.get(42)\n"
    )
    env = {**os.environ, "MYPYPATH": "", "PYTHONPATH": ""}
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
         "--python-executable", sys.executable, str(snippet)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**env, "PYTHONPATH": str(site)},
    )
    out = checked.stdout
    assert 'Revealed type is "TypedDict(stowage._types.FileRecord, {' in out, out
    assert 'Argument 1 to "get" of "Files" has incompatible type "int"' in out, out
    assert "Skipping analyzing" not in out and "missing library stubs" not in out, out
