"""Stowage's cold-start benchmark (not a test: it reports, it does not pass or fail).

Runs the release bootstraps of create-file, get-file, list-files and on-object-created under a
Lambda Runtime API emulator (this file), against moto serving DynamoDB and S3 over TLS with a
throwaway CA, and reports per function: init (process start to its first `next`), the first
invoke, warm p50/p99 over --invokes invocations, and peak RSS. In the same run, a Python 3 +
boto3 handler doing create-file's work (bench/baseline/create_file.py) runs under the same
emulator, so the ratios are measured side by side on one machine. Unless --no-arm64, it also
builds the stripped arm64 bootstraps with `cargo lambda build --arm64` and reports their sizes.
With --traced every invocation is sampled and the functions send X-Ray subsegments to a
stand-in daemon (their cost: compare with a run without it).

Run it through bench/run, which builds the bootstraps and installs the tools it needs.
"""

import argparse
import http.server
import json
import os
import queue
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import ssl
from pathlib import Path

import boto3
import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench"
FUNCTIONS = ["create-file", "get-file", "list-files", "on-object-created"]
TABLE = "stowage-bench"
BUCKET = "stowage-bench"
REGION = "us-east-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


# --- TLS: a throwaway CA and a certificate for localhost / 127.0.0.1 --------------------------


def make_certificates(dir: Path):
    dir.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (dir / n for n in ["ca.key", "ca.pem", "server.key", "server.csr", "server.pem"])
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=Stowage bench CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", **quiet)
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost", **quiet)
    ext = dir / "server.ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext), **quiet)
    return ca, cert, key


# --- moto over TLS ----------------------------------------------------------------------------


def start_moto(cert: Path, key: Path, ca: Path):
    port = free_port()
    log = open(OUT / "moto.log", "w")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "moto_nodelay.py"), "-H", "127.0.0.1", "-p", str(port),
         "-c", str(cert), "-k", str(key)], stdout=log, stderr=log)
    endpoint = f"https://{os.environ.get('BENCH_HOST', 'localhost')}:{port}"
    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2, context=context)
            return process, endpoint
        except Exception:
            if process.poll() is not None or time.time() > deadline:
                sys.exit(f"moto did not start over TLS on {endpoint} (see {OUT / 'moto.log'})")
            time.sleep(0.2)


class Loader(yaml.SafeLoader):
    pass


Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def create_storage(endpoint: str):
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    props = template["Resources"]["FilesTable"]["Properties"]
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    args = dict(
        TableName=TABLE,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode="PAY_PER_REQUEST",
    )
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    dynamodb.create_table(**args)
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket=BUCKET)
    return template


# --- the Runtime API emulator -----------------------------------------------------------------


# The trace header the emulator hands each invocation: unsampled, unless --traced (then every
# invocation is sampled and the functions send their subsegments to XRAY_DAEMON, a UDP socket
# of this process's that counts them, as Lambda's daemon would receive them).
TRACE_HEADER = "Root=1-00000000-000000000000000000000000;Sampled=0"
XRAY = {"datagrams": 0, "address": None}


def start_xray_daemon():
    """A stand-in for the X-Ray daemon: receives and counts datagrams."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    XRAY["address"] = f"127.0.0.1:{sink.getsockname()[1]}"

    def drain():
        while True:
            sink.recv(65536)
            XRAY["datagrams"] += 1

    threading.Thread(target=drain, daemon=True).start()


class Emulator:
    """One function's Runtime API: hands out queued events, collects answers, keeps times."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.first_next = None
        emulator = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    return self.reply(404)
                if emulator.first_next is None:
                    emulator.first_next = time.perf_counter()
                request_id, body = emulator.events.get()
                self.reply(200, body, [
                    ("content-type", "application/json"),
                    ("lambda-runtime-aws-request-id", request_id),
                    ("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 30_000)),
                    ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench"),
                    ("lambda-runtime-trace-id", TRACE_HEADER),
                ])

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if self.path.endswith("/response"):
                    emulator.answers.put((time.perf_counter(), True, body))
                elif self.path.endswith("/error"):
                    emulator.answers.put((time.perf_counter(), False, body))
                self.reply(202, b"{}", [("content-type", "application/json")])

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def invoke(self, event: bytes):
        started = time.perf_counter()
        self.events.put((str(uuid.uuid4()), event))
        at, ok, body = self.answers.get(timeout=60)
        if not ok:
            raise RuntimeError(f"the function failed: {body[:500]!r}")
        return (at - started) * 1000, body


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(name, command, env, events, invokes, answers=None):
    """Starts `command` under a fresh emulator; answers init, first, warm p50/p99, RSS. The
    body of every answer is appended to `answers`, if given."""
    emulator = Emulator()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=emulator.address)
    log = open(OUT / f"{name}.log", "w")
    started = time.perf_counter()
    wrap = os.environ.get("BENCH_WRAP", "").replace("{name}", name).split()  # e.g. strace, to look
    process = subprocess.Popen(wrap + command, env=env, stdout=log, stderr=log)
    try:
        while emulator.first_next is None:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited during init (see {OUT / (name + '.log')})")
            time.sleep(0.0002)
        init = (emulator.first_next - started) * 1000
        first, body = emulator.invoke(events(0))
        warm = []
        for i in range(invokes):
            took, answer = emulator.invoke(events(i + 1))
            warm.append(took)
            if answers is not None:
                answers.append(answer)
        if answers is not None:
            answers.insert(0, body)
        rss = peak_rss_mib(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        emulator.server.shutdown()
    warm.sort()
    return {
        "init_ms": init,
        "first_ms": first,
        "cold_ms": init + first,
        "p50_ms": statistics.median(warm),
        "p99_ms": warm[min(len(warm) - 1, round(len(warm) * 0.99) - 1)],
        "rss_mib": rss,
        "first_answer": body.decode(errors="replace"),
    }


# --- the run ----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--invokes", type=int, default=200)
    parser.add_argument("--bin-dir", default=str(ROOT / "target" / "release"))
    parser.add_argument("--no-arm64", action="store_true", help="skip the arm64 size build")
    parser.add_argument("--no-prime", action="store_true", help="also run every function without priming")
    parser.add_argument("--traced", action="store_true",
                        help="sample every invocation and run the functions with an X-Ray daemon address (their tracing active)")
    parser.add_argument("--no-collections", action="store_true",
                        help="skip the create in a collection with rules and a quota (for builds before collections)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.traced:
        global TRACE_HEADER
        TRACE_HEADER = "Root=1-6750a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
        start_xray_daemon()

    ca, cert, key = make_certificates(OUT / "tls")
    moto, endpoint = start_moto(cert, key, ca)
    try:
        os.environ.update(AWS_CA_BUNDLE=str(ca), AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                          AWS_DEFAULT_REGION=REGION)
        template = create_storage(endpoint)
        results = run_functions(args, template, endpoint, ca)
    finally:
        moto.kill()
        moto.wait()
    if not args.no_arm64:
        results["arm64"] = arm64_sizes()
    for group in [results["functions"], results["unprimed"], {"python": results["python"]}]:
        for r in group.values():
            r.pop("first_answer", None)
    if args.traced:
        results["xray_datagrams"] = XRAY["datagrams"]
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    report(results)


def function_env(template, function, endpoint, ca, prime):
    resource = next(r for r in template["Resources"].values()
                    if isinstance(r, dict) and (r.get("Metadata") or {}).get("BuildProperties", {}).get("Binary") == function)
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    own_env = ((resource["Properties"].get("Environment") or {}).get("Variables") or {})
    template_prime = own_env.get("STOWAGE_PRIME", globals_env.get("STOWAGE_PRIME", ""))
    return {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_ENDPOINT_URL": endpoint,
        "SSL_CERT_FILE": str(ca),
        "AWS_CA_BUNDLE": str(ca),
        "STOWAGE_TABLE": TABLE,
        "STOWAGE_BUCKET": BUCKET,
        "STOWAGE_S3_FORCE_PATH_STYLE": "true",
        "STOWAGE_PRIME": template_prime if prime else "",
        "RUST_LOG": os.environ.get("BENCH_RUST_LOG", "warn"),
        **({"AWS_XRAY_DAEMON_ADDRESS": XRAY["address"]} if XRAY["address"] else {}),
    }


def run_functions(args, template, endpoint, ca):
    samples = {name: json.loads((ROOT / "events" / f"{name}.json").read_text())
               for name in ["create-file", "get-file", "list-files", "s3-object-created"]}
    create_event = json.dumps(samples["create-file"]).encode()
    bins = Path(args.bin_dir)
    results = {"invokes": args.invokes, "functions": {}, "unprimed": {}}

    def rust(function, events, prime=True, answers=None, extra_env=None, label=None):
        env = dict(function_env(template, function, endpoint, ca, prime), **(extra_env or {}))
        return measure((label or function) + ("" if prime else "-unprimed"), [str(bins / function)], env,
                       events, args.invokes, answers)

    results["moto_floor_ms"] = moto_floor(endpoint)
    created = []
    results["functions"]["create-file"] = rust("create-file", lambda i: create_event, answers=created)
    if not args.no_collections:
        # The same create into a collection with rules and a limit, under a tenant limit too:
        # what admits it is read (one BatchGetItem) and the counters go into its transaction.
        now = "2026-12-01T00:00:00.000Z"
        boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION).put_item(
            TableName=TABLE,
            Item={"pk": {"S": "T#acme"}, "sk": {"S": "C#bench"}, "tenant": {"S": "acme"},
                  "name": {"S": "bench"}, "version": {"N": "1"}, "createdAt": {"S": now},
                  "updatedAt": {"S": now},
                  "rules": {"M": {"allowedMimeTypes": {"L": [{"S": "application/*"}]},
                                  "maxFileSize": {"N": "1000000"}, "requireSize": {"BOOL": True},
                                  "limits": {"M": {"maxBytes": {"N": "1000000000000"},
                                                   "maxFiles": {"N": "1000000"}}}}}})
        in_collection = json.loads(create_event)
        body = json.loads(in_collection["body"])
        body["collection"] = "bench"
        in_collection["body"] = json.dumps(body)
        quota_event = json.dumps(in_collection).encode()
        quota_env = {"STOWAGE_DEFAULT_TENANT_MAX_BYTES": "1000000000000"}
        answered = []
        results["functions"]["create-file, in a collection with rules and a quota"] = rust(
            "create-file", lambda i: quota_event, answers=answered, extra_env=quota_env,
            label="create-file-quota")
        refused = [a for a in answered if json.loads(a).get("statusCode") != 201]
        if refused:
            raise RuntimeError(f"the create in the collection was refused: {refused[0][:300]}")
    # Every file create-file made: get-file reads them, on-object-created completes them.
    ids = [json.loads(json.loads(answer)["body"])["file"]["id"] for answer in created]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)

    def get_event(i):
        event = dict(samples["get-file"])
        file_id = ids[i]
        event["pathParameters"] = {"id": file_id}
        event["rawPath"] = f"/files/{file_id}"
        event["requestContext"] = dict(event["requestContext"],
                                       http=dict(event["requestContext"]["http"], path=f"/files/{file_id}"))
        return json.dumps(event).encode()

    results["functions"]["get-file"] = rust("get-file", get_event)
    results["functions"]["list-files"] = rust("list-files", lambda i: json.dumps(samples["list-files"]).encode())

    # Each invocation completes another file: its bytes are put first, as a client would.
    etags = []
    for file_id in ids:
        put = s3.put_object(Bucket=BUCKET, Key=f"files/acme/{file_id}/1", Body=b"hello world",
                            ContentType="application/pdf")
        etags.append(put["ETag"].strip('"'))

    def object_event(i):
        event = json.loads(json.dumps(samples["s3-object-created"]))
        record = event["Records"][0]
        record["s3"]["bucket"]["name"] = BUCKET
        record["s3"]["object"].update(key=f"files/acme/{ids[i]}/1", size=11, eTag=etags[i],
                                      sequencer=f"{i + 1:018X}")
        return json.dumps(event).encode()

    results["functions"]["on-object-created"] = rust("on-object-created", object_event)

    if args.no_prime:
        for function, events in [("create-file", lambda i: create_event),
                                 ("get-file", get_event),
                                 ("list-files", lambda i: json.dumps(samples["list-files"]).encode())]:
            results["unprimed"][function] = rust(function, events, prime=False)

    baseline_env = function_env(template, "create-file", endpoint, ca, prime=False)
    baseline_env["PYTHONPATH"] = ""
    results["python"] = measure("python-create-file", [sys.executable, str(ROOT / "bench" / "baseline" / "create_file.py")],
                                baseline_env, lambda i: create_event, args.invokes)
    return results


def moto_floor(endpoint):
    """moto's own time for one small call on a warm TLS connection (boto3 GetItem, median of
    100): the part of every figure that is the server's, not the function's."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    times = []
    for _ in range(100):
        started = time.perf_counter()
        dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": ".floor"}, "sk": {"S": ".floor"}})
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def arm64_sizes():
    cargo_lambda = Path(sys.executable).parent / "cargo-lambda"
    command = [str(cargo_lambda), "lambda", "build", "--release", "--arm64"]
    for function in FUNCTIONS:
        command += ["-p", function]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    started = time.time()
    subprocess.run(command, cwd=ROOT, check=True, env=env)
    sizes = {}
    for function in FUNCTIONS:
        path = ROOT / "target" / "lambda" / function / "bootstrap"
        sizes[function] = path.stat().st_size
    return {"build_seconds": round(time.time() - started), "bytes": sizes}


def report(results):
    rows = ["| function | init | first invoke | warm p50 | warm p99 | first ÷ p50 | cold (init + first) | peak RSS |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]

    def row(label, r):
        rows.append(f"| {label} | {r['init_ms']:.1f} ms | {r['first_ms']:.1f} ms | {r['p50_ms']:.2f} ms | "
                    f"{r['p99_ms']:.2f} ms | {r['first_ms'] / r['p50_ms']:.1f} | {r['cold_ms']:.1f} ms | {r['rss_mib']:.1f} MiB |")

    for name, r in results["functions"].items():
        row(f"`{name}`", r)
    for name, r in results["unprimed"].items():
        row(f"`{name}`, not primed", r)
    row("Python 3 + boto3 `create-file`", results["python"])
    print(f"\nOver TLS to moto, {results['invokes']} warm invocations each; one DynamoDB call to moto "
          f"takes {results['moto_floor_ms']:.1f} ms (boto3 GetItem, warm, median):\n")
    print("\n".join(rows))
    if "xray_datagrams" in results:
        print(f"\nTraced: every invocation sampled; the X-Ray daemon stand-in received "
              f"{results['xray_datagrams']:,} subsegments.")
    rust_cold = results["functions"]["create-file"]["cold_ms"]
    print(f"\ncreate-file cold start: Rust {rust_cold:.1f} ms, Python {results['python']['cold_ms']:.1f} ms "
          f"({results['python']['cold_ms'] / rust_cold:.0f}× faster)")
    if "arm64" in results:
        print(f"\nStripped arm64 bootstraps (cargo lambda build --release --arm64, {results['arm64']['build_seconds']} s):\n")
        print("| function | bytes | MiB |\n| --- | --- | --- |")
        for name, size in results["arm64"]["bytes"].items():
            print(f"| `{name}` | {size:,} | {size / 1048576:.2f} |")


if __name__ == "__main__":
    main()
