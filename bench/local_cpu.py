"""`stowage-local`'s server CPU per request (not a test: it reports, it does not pass or fail).

Starts the release `stowage-local` on loopback with a fresh data dir, then 16 client threads
(httpx, one connection each) run, as fast as they are answered:

- creates of a 4 KiB file, each followed by the `PUT` of its bytes to the upload URL (the
  embedded endpoint then completes the file, as S3's event would);
- `GET /files/{id}` of the files made.

It reports the server's CPU time (user + system, from /proc/<pid>/stat) per operation, and
the operations per second. Run it through `bench/run --local-cpu`, which builds the server.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transfer import start_local  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 16
BODY = os.urandom(4096)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); after the name, 12 and 13 (0-based 11, 12).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_clients(count: int, work):
    """Runs `work(client, i)` `count` times over CLIENTS threads; returns the seconds taken."""
    next_index = iter(range(count))
    lock = threading.Lock()
    failures = []

    def loop():
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                try:
                    work(client, i)
                except Exception as err:  # reported below
                    failures.append(repr(err))

    threads = [threading.Thread(target=loop) for _ in range(CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"{len(failures)} operations failed, e.g. {failures[0]}")
    return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--creates", type=int, default=3000)
    parser.add_argument("--gets", type=int, default=20000)
    parser.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "stowage-local",
                        help="the stowage-local to measure (default: the release build)")
    args = parser.parse_args()
    binary = args.binary
    with tempfile.TemporaryDirectory(prefix="stowage-cpu-") as data:
        server, url = start_local(binary, Path(data))
        try:
            token = subprocess.run(
                [str(binary), "token", "--tenant", "bench", "--user", "bench", "--data-dir", data],
                check=True, capture_output=True, text=True).stdout.strip()
            headers = {"authorization": f"Bearer {token}"}
            ids = []

            def create_and_put(client, i):
                created = client.post(f"{url}/files", headers=headers, json={
                    "name": f"f{i}.bin", "size": len(BODY), "mimeType": "application/octet-stream"})
                created.raise_for_status()
                answer = created.json()
                upload = answer["upload"]
                put = client.request(upload["method"], upload["url"], headers=upload["headers"],
                                     content=BODY)
                put.raise_for_status()
                ids.append(answer["file"]["id"])

            def get(client, i):
                got = client.get(f"{url}/files/{ids[i % len(ids)]}", headers=headers)
                got.raise_for_status()

            run_clients(200, create_and_put)  # warm-up
            before = cpu_seconds(server.pid)
            seconds = run_clients(args.creates, create_and_put)
            create_cpu = cpu_seconds(server.pid) - before
            time.sleep(1)  # completions of the last uploads
            before = cpu_seconds(server.pid)
            get_seconds = run_clients(args.gets, get)
            get_cpu = cpu_seconds(server.pid) - before
        finally:
            server.kill()
    print(f"{CLIENTS} clients, release stowage-local, embedded backend")
    print(f"create + 4 KiB PUT: {1000 * create_cpu / args.creates:.3f} ms server CPU each, "
          f"{args.creates / seconds:.0f} per second")
    print(f"GET /files/{{id}}: {1000 * get_cpu / args.gets:.3f} ms server CPU each, "
          f"{args.gets / get_seconds:.0f} per second")


if __name__ == "__main__":
    main()
