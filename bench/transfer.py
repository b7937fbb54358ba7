"""Stowage's transfer benchmark (not a test: it reports, it does not pass or fail).

Against one `stowage-local` (release build, data dir on local disk, loopback), with a 1 GiB
file of random bytes, side by side:

- the `stowage` CLI's upload (multipart, --part-size and --parallel as given) and download;
- the AWS CLI (`aws s3 cp`, from PyPI, pinned in bench/requirements.txt) uploading the same file
  to the same endpoint (the embedded S3 endpoint, with its credentials from
  `stowage-local s3-credentials`), with the same part size and concurrency, and downloading the
  object the stowage CLI uploaded; neither computes checksums beyond S3's (the AWS CLI is set to
  `request_checksum_calculation = when_required`, as Stowage's presigned uploads are);
- a multipart upload of the file in 8 MiB parts straight to the endpoint (boto3), timing the
  `CompleteMultipartUpload` alone: how long completion takes after the last part (first in each
  run, after a `sync`, so the earlier runs' writes are not still going to disk);
- a plain GET of the object (a presigned URL, read to the end and dropped): the endpoint's own
  download rate;
- the two client SDKs, each uploading the file (same part size and concurrency) and
  downloading it back to disk in one process of its own: `clients/typescript/bench-transfer.mjs`
  (Node) and `clients/python/bench_transfer.py` (this venv's Python, with the SDK from the
  checkout); their peak RSS is the process's own high-water mark over both transfers.

Every upload starts after a `sync`, so none pays for the writeback of the transfers before it.
Every download is checked against the file's SHA-256. Wall times, rates and peak RSS (VmHWM)
go to stdout and target/bench/transfer.json. Run it through `bench/run --transfer`, which builds
the release binaries and installs the tools.
"""

import argparse
import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench"
MIB = 1024 * 1024


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_timed(command, env=None):
    """Runs `command`; returns (seconds, peak RSS MiB, stdout text). Peak RSS is the process's
    VmHWM, sampled every 20 ms (wait4's ru_maxrss would count this Python's pages, which the
    child has until it execs)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=errors)
        peak = 0
        while process.poll() is None:
            peak = max(peak, vm_hwm_kib(process.pid))
            time.sleep(0.02)
        errors.seek(0)
        err = errors.read()
        output.seek(0)
        out = output.read()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{err.decode(errors='replace')}")
    return seconds, peak / 1024, out.decode()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MIB):
            digest.update(chunk)
    return digest.hexdigest()


def make_file(path: Path, size: int):
    if path.exists() and path.stat().st_size == size:
        return
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n


def start_local(binary: Path, data_dir: Path):
    process = subprocess.Popen(
        [str(binary), "--addr", "127.0.0.1:0", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, RUST_LOG="warn"),
        text=True,
    )
    first = process.stdout.readline().strip()
    match = re.match(r"stowage-local listening on (\S+)", first)
    if not match:
        process.kill()
        sys.exit(f"stowage-local did not start: {first!r}")
    return process, match.group(1)


def s3_credentials(binary: Path, data_dir: Path) -> dict:
    out = subprocess.run(
        [str(binary), "s3-credentials", "--data-dir", str(data_dir)],
        check=True, capture_output=True, text=True,
    ).stdout
    return dict(re.findall(r"^export (\w+)=(.*)$", out, re.M))


def rate(size, seconds):
    return round(size / MIB / seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-size-mib", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3, help="each measurement, best and median reported")
    args = parser.parse_args()

    size = args.size_mib * MIB
    part = args.part_size_mib * MIB
    local_bin = ROOT / "target" / "release" / "stowage-local"
    cli_bin = ROOT / "target" / "release" / "stowage"
    aws_bin = Path(sys.executable).parent / "aws"
    work = OUT / "transfer"
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"random-{args.size_mib}MiB.bin"
    make_file(source, size)
    source_sha = sha256(source)
    data_dir = Path(tempfile.mkdtemp(prefix="data-", dir=work))
    server, url = start_local(local_bin, data_dir)
    results = {"size_bytes": size, "part_bytes": part, "parallel": args.parallel, "runs": {}}
    try:
        token = subprocess.run(
            [str(local_bin), "token", "--tenant", "bench", "--user", "bench", "--data-dir", str(data_dir)],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        cli_env = dict(os.environ, STOWAGE_ENDPOINT=url, STOWAGE_TOKEN=token)
        creds = s3_credentials(local_bin, data_dir)
        aws_config = work / "aws-config"
        aws_config.write_text(
            "[default]\n"
            "request_checksum_calculation = when_required\n"
            "response_checksum_validation = when_required\n"
            "s3 =\n"
            f"  multipart_threshold = {args.part_size_mib}MB\n"
            f"  multipart_chunksize = {args.part_size_mib}MB\n"
            f"  max_concurrent_requests = {args.parallel}\n"
            "  addressing_style = path\n"
        )
        aws_env = dict(os.environ, **creds, AWS_CONFIG_FILE=str(aws_config),
                       AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        bucket = creds["STOWAGE_LOCAL_BUCKET"]
        s3 = boto3.client(
            "s3", endpoint_url=url, region_name=creds["AWS_REGION"],
            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"], aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
            config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                          response_checksum_validation="when_required", max_pool_connections=args.parallel),
        )

        runs = {k: [] for k in ["cli_upload", "aws_upload", "complete", "cli_download", "aws_download", "get",
                                "ts_upload", "ts_download", "py_upload", "py_download"]}
        sdks = {
            "ts": ["node", str(ROOT / "clients" / "typescript" / "bench-transfer.mjs")],
            "py": [sys.executable, str(ROOT / "clients" / "python" / "bench_transfer.py")],
        }
        for run in range(args.runs):
            # Completion alone, after the last of the parts, first in the run: the earlier
            # runs' gigabytes flushed (sync), so the disk is as quiet as a laptop's usually is.
            # (With 2 GiB of other uploads still being written back, it took ~2 s here.)
            os.sync()
            key = f"bench/complete-{run}.bin"
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

            def send(number):
                with open(source, "rb") as f:
                    f.seek((number - 1) * part)
                    body = f.read(part)
                etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)["ETag"]
                return {"PartNumber": number, "ETag": etag}

            count = -(-size // part)
            with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
                parts = list(pool.map(send, range(1, count + 1)))
            started = time.perf_counter()
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": parts})
            runs["complete"].append({"seconds": time.perf_counter() - started})

            # The stowage CLI: create, parts, complete, wait for `uploaded`. Each upload starts
            # with the disk quiet (sync): one measured after a few GiB of other transfers
            # otherwise pays for their writeback.
            os.sync()
            seconds, rss, out = run_timed(
                [str(cli_bin), "upload", str(source), "--json",
                 "--part-size", str(part), "--parallel", str(args.parallel)], env=cli_env)
            record = json.loads(out)
            assert record["status"] == "uploaded" and record["size"] == size, record
            runs["cli_upload"].append({"seconds": seconds, "rss_mib": rss})
            file_id = record["id"]

            # The AWS CLI, same endpoint, part size and concurrency.
            os.sync()
            seconds, rss, _ = run_timed(
                [str(aws_bin), "s3", "cp", str(source), f"s3://{bucket}/bench/aws-{run}.bin",
                 "--endpoint-url", url, "--only-show-errors"], env=aws_env)
            runs["aws_upload"].append({"seconds": seconds, "rss_mib": rss})

            # Downloads of the object the stowage CLI uploaded, each checked.
            target = work / "download.bin"
            seconds, rss, _ = run_timed([str(cli_bin), "download", file_id, "-o", str(target)], env=cli_env)
            assert sha256(target) == source_sha, "stowage download differs"
            runs["cli_download"].append({"seconds": seconds, "rss_mib": rss})
            target.unlink()
            object_key = f"files/bench/{file_id}"
            listed = s3.list_objects_v2(Bucket=bucket, Prefix="files/")
            keys = [o["Key"] for o in listed.get("Contents", []) if file_id in o["Key"]]
            object_key = keys[0] if keys else object_key
            seconds, rss, _ = run_timed(
                [str(aws_bin), "s3", "cp", f"s3://{bucket}/{object_key}", str(target),
                 "--endpoint-url", url, "--only-show-errors"], env=aws_env)
            assert sha256(target) == source_sha, "aws s3 cp download differs"
            runs["aws_download"].append({"seconds": seconds, "rss_mib": rss})
            target.unlink()

            # The endpoint's own rate: one presigned GET, read and dropped.
            presigned = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": object_key})
            started = time.perf_counter()
            with urllib.request.urlopen(presigned) as response:
                got = 0
                while chunk := response.read(4 * MIB):
                    got += len(chunk)
            runs["get"].append({"seconds": time.perf_counter() - started})
            assert got == size

            # The SDKs: upload and download back, each in a process of its own.
            for name, command in sdks.items():
                os.sync()
                target = work / f"download-{name}.bin"
                extra = ["--out", str(target), "--keep"] if name == "ts" else ["--verify"]
                done = subprocess.run(
                    command + ["--endpoint", url, "--token", token, "--file", str(source),
                               "--part-size-mib", str(args.part_size_mib), "--parallel", str(args.parallel)]
                    + extra, check=True, capture_output=True, text=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                if name == "ts":
                    assert sha256(target) == source_sha, "the TypeScript SDK's download differs"
                    target.unlink()
                runs[f"{name}_upload"].append({"seconds": result["upload_seconds"], "rss_mib": result["peak_rss_mib"]})
                runs[f"{name}_download"].append({"seconds": result["download_seconds"], "rss_mib": result["peak_rss_mib"]})
        results["runs"] = runs
    finally:
        server.kill()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "transfer.json").write_text(json.dumps(results, indent=2))
    report(results)


def report(results):
    size = results["size_bytes"]
    print(f"\n{size // MIB} MiB, {results['part_bytes'] // MIB} MiB parts, {results['parallel']} in parallel, "
          f"{len(results['runs']['cli_upload'])} runs (best / median):\n")
    print("| | wall time | throughput | peak RSS |")
    print("| --- | --- | --- | --- |")
    labels = {
        "cli_upload": "`stowage upload` (create, parts, complete, wait for `uploaded`)",
        "aws_upload": "`aws s3 cp` upload",
        "complete": "`CompleteMultipartUpload` alone, after the last part",
        "cli_download": "`stowage download` (to disk)",
        "aws_download": "`aws s3 cp` download (to disk)",
        "get": "one presigned `GET`, read and dropped",
        "ts_upload": "TypeScript SDK `files.upload` (Node 20; parts, complete, wait for `uploaded`)",
        "ts_download": "TypeScript SDK `files.download` (a stream to disk)",
        "py_upload": "Python SDK `files.upload` (parts in threads, complete, wait for `uploaded`)",
        "py_download": "Python SDK `files.download` (to disk)",
    }
    for name, label in labels.items():
        runs = results["runs"][name]
        times = sorted(r["seconds"] for r in runs)
        best, median = times[0], times[len(times) // 2]
        throughput = "" if name == "complete" else f"{rate(size, best)} / {rate(size, median)} MiB/s"
        rss = [r["rss_mib"] for r in runs if "rss_mib" in r]
        rss_text = f"{max(rss):.0f} MiB" if rss else ""
        print(f"| {label} | {best:.2f} / {median:.2f} s | {throughput} | {rss_text} |")


if __name__ == "__main__":
    main()
