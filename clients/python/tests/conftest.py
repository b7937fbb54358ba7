"""A real stowage-local for the tests: the binary named by STOWAGE_LOCAL_BIN, started on a free
loopback port with a fresh data dir and a 5 MiB multipart threshold. Without the binary, or if it
does not start, the run fails (nothing is skipped)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from stowage import Stowage

MIB = 1024 * 1024
#: The lowest multipart threshold the server takes (S3's smallest part).
THRESHOLD = 5 * MIB


def pytest_configure(config: pytest.Config) -> None:
    binary = os.environ.get("STOWAGE_LOCAL_BIN", "")
    if not binary:
        raise pytest.UsageError(
            "STOWAGE_LOCAL_BIN is not set: point it at a stowage-local binary "
            "(these tests run against a real server and are never skipped)"
        )
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise pytest.UsageError(f"STOWAGE_LOCAL_BIN={binary!r} is not an executable file")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    binary: str
    data_dir: Path
    log_path: Path
    endpoint: str = ""
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[tuple[str, str, str, tuple[str, ...]], str] = field(default_factory=dict)

    def start(self, extra_env: dict[str, str] | None = None, port: int | None = None) -> None:
        last = ""
        fixed = port
        for _ in range(1 if fixed else 3):  # a port taken meanwhile: choose again
            port = fixed or free_port()
            self.endpoint = f"http://127.0.0.1:{port}"
            env = dict(os.environ)
            env.update(
                {
                    "STOWAGE_MULTIPART_THRESHOLD": str(THRESHOLD),
                    "RUST_LOG": "info",
                    "NO_COLOR": "1",
                }
            )
            env.update(extra_env or {})
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                [self.binary, "--addr", f"127.0.0.1:{port}", "--data-dir", str(self.data_dir)],
                stdout=log,
                stderr=log,
                env=env,
            )
            log.close()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    if httpx.get(self.endpoint + "/openapi.yaml", timeout=2).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            self.stop()
            last = self.log_tail()
            if "in use" not in last.lower():
                break
        raise RuntimeError(f"stowage-local did not start at {self.endpoint}:\n{last}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def token(
        self, tenant: str, user: str, *, scope: str | None = None, groups: tuple[str, ...] = ()
    ) -> str:
        key = (tenant, user, scope or "", groups)
        if key not in self.tokens:
            args = [self.binary, "token", "--tenant", tenant, "--user", user,
                    "--data-dir", str(self.data_dir)]
            if scope:
                args += ["--scope", scope]
            for group in groups:
                args += ["--group", group]
            out = subprocess.run(args, capture_output=True, text=True, timeout=30)
            if out.returncode != 0:
                raise RuntimeError(f"stowage-local token failed: {out.stderr}")
            self.tokens[key] = out.stdout.strip()
        return self.tokens[key]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("stowage-local")
    srv = Server(os.environ["STOWAGE_LOCAL_BIN"], root / "data", root / "server.log")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def tenant() -> str:
    """A tenant of its own for each test, so that listings and usage see only its files."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(server: Server, tenant: str) -> Iterator[Stowage]:
    with Stowage(server.endpoint, server.token(tenant, "alice")) as c:
        yield c


@pytest.fixture
def admin(server: Server, tenant: str) -> Iterator[Stowage]:
    """An app of the same tenant (files:admin)."""
    with Stowage(server.endpoint, server.token(tenant, "the-app", scope="files:admin")) as c:
        yield c
