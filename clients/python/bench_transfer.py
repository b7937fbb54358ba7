"""Times one upload and one download of a file with the Python client (a benchmark, not a test).

    python bench_transfer.py --endpoint http://127.0.0.1:4600 --token "$TOKEN" \
        --file big.bin --part-size-mib 8 --parallel 4

prints one JSON object: {"upload_seconds", "download_seconds", "peak_rss_mib", …}. The file goes
up as a multipart upload in parts of --part-size-mib when it is larger than one part (else one
PUT), comes back into a temporary file beside it (checked for its size, and with --verify for
its SHA-256 too), and the record is deleted afterwards unless --keep."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from stowage import Stowage  # noqa: E402

MIB = 1024 * 1024


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (MIB if sys.platform == "darwin" else 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True, help="the API's base URL")
    parser.add_argument("--token", default=os.environ.get("STOWAGE_TOKEN"),
                        help="bearer token (default: $STOWAGE_TOKEN)")
    parser.add_argument("--file", required=True, help="the file to upload")
    parser.add_argument("--part-size-mib", type=int, default=8, help="multipart part size (MiB)")
    parser.add_argument("--parallel", type=int, default=4, help="parts in flight at once")
    parser.add_argument("--verify", action="store_true", help="also compare SHA-256 (untimed)")
    parser.add_argument("--keep", action="store_true", help="keep the uploaded record")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or STOWAGE_TOKEN) is required")
    size = os.path.getsize(args.file)
    part_size = args.part_size_mib * MIB

    with Stowage(args.endpoint, args.token) as client:
        client.limits()  # not part of the timing
        started = time.perf_counter()
        record = client.files.upload(
            args.file,
            mime_type="application/octet-stream",
            parallel=args.parallel,
            part_size=part_size,
            multipart=size > part_size,
        )
        upload_seconds = time.perf_counter() - started
        fd, copy = tempfile.mkstemp(prefix=".bench-", dir=os.path.dirname(os.path.abspath(args.file)))
        os.close(fd)
        try:
            started = time.perf_counter()
            written = client.files.download(record["id"], copy)
            download_seconds = time.perf_counter() - started
            if written != size or os.path.getsize(copy) != size:
                raise SystemExit(f"downloaded {written} bytes, expected {size}")
            verified = None
            if args.verify:
                verified = sha256_of(copy) == sha256_of(args.file)
                if not verified:
                    raise SystemExit("the downloaded bytes differ from the file")
        finally:
            if os.path.exists(copy):
                os.remove(copy)
            if not args.keep:
                client.files.delete(record["id"])

    print(json.dumps({
        "upload_seconds": round(upload_seconds, 3),
        "download_seconds": round(download_seconds, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "bytes": size,
        "part_size_mib": args.part_size_mib,
        "parallel": args.parallel,
        "multipart": size > part_size,
        "verified": verified,
        "file_id": record["id"],
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
