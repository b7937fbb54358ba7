"""Fuzzes stowage-local with Schemathesis against openapi.yaml; part of scripts/test.

    python scripts/fuzz/run.py --local target/debug/stowage-local [--examples N] [--seed S]

Starts its own stowage-local on a free port with a fresh data dir, then:

1. checks that GET /openapi.yaml answers without a token and serves this openapi.yaml;
2. seeds tenant A ("acme") with an uploaded, a pending and a multipart file;
3. run "valid token": tenant "fuzz" with an app's token (`files:admin`, so the collection and
   limit routes are exercised too), every operation, all phases (examples, coverage,
   fuzzing, stateful links), checks not_a_server_error, status_code_conformance,
   content_type_conformance, response_schema_conformance;
4. run "no token": every operation must answer 401 problem+json;
5. run "other tenant": tenant B ("globex", an app's token) with every file id rewritten to one
   of A's ids and every collection name to A's own collection: nothing may succeed; afterwards
   A's records, bytes, collections and usage must be exactly as before;
6. run "read-only token": tenant A with a `files:read` token (the server requires scopes):
   every GET answers as usual, every other operation 403 insufficient_scope; afterwards A's
   records, bytes, collections and usage must be exactly as before;
7. run "same tenant, no grants": tenant "team" keeps its files only in a
   `fileSecurity` collection that nobody reads whole (its `default` is closed the same way); another member of "team", with no grants,
   gets every file id rewritten to those files and every collection (and every create) to that
   collection: nothing may succeed, and afterwards the tenant's records, bytes, collections,
   listing and usage are exactly as before.

Exits non-zero if the server cannot start or any run finds a failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
HOOKS = Path(__file__).resolve().parent / "hooks.py"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def fail(message):
    print(f"\nfuzz: {message}", file=sys.stderr)
    sys.exit(1)


def request(method, url, token=None, body=None, content_type="application/json", extra=None):
    data = None
    headers = dict(extra or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["content-type"] = content_type
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


def api(method, base, path, token, body=None):
    status, raw, _ = request(method, base + path, token, body)
    return status, (json.loads(raw) if raw else None)


class Local:
    def __init__(self, binary, data_dir):
        self.binary = binary
        self.data_dir = data_dir
        self.log = open(Path(data_dir).parent / "stowage-local.log", "w")
        self.proc = subprocess.Popen(
            [binary, "--addr", "127.0.0.1:0", "--data-dir", data_dir],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, "RUST_LOG": "warn", "STOWAGE_REQUIRE_SCOPES": "true"},
        )
        first = self.proc.stdout.readline().strip()
        prefix = "stowage-local listening on "
        if not first.startswith(prefix):
            self.stop()
            fail(f"stowage-local did not start (said {first!r}; see {self.log.name})")
        self.url = first[len(prefix):]

    def token(self, tenant, user, scope=None):
        extra = ["--scope", scope] if scope else []
        out = subprocess.run(
            [self.binary, "token", "--tenant", tenant, "--user", user, "--data-dir", self.data_dir,
             *extra],
            capture_output=True, text=True, check=True,
        )
        return out.stdout.strip()

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def schemathesis(name, base, args, env, cwd):
    """One Schemathesis run; returns the number of generated test cases."""
    venv_bin = Path(sys.executable).parent
    command = [
        str(venv_bin / "schemathesis"), "run", str(SPEC), "--url", base,
        "--no-color", "--warnings", "off", *args,
    ]
    print(f"\n--- schemathesis: {name}\n$ {' '.join(c if 'Bearer' not in c else 'Authorization: Bearer …' for c in command)}", flush=True)
    proc = subprocess.run(
        command, capture_output=True, text=True, cwd=cwd,  # its .schemathesis cache stays out of the tree
        env={**os.environ, **env, "SCHEMATHESIS_HOOKS": str(HOOKS)},
    )
    print(proc.stdout[-3000:])
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr)
        fail(f"schemathesis run '{name}' failed (exit {proc.returncode})")
    match = re.search(r"(\d+) generated, (\d+) passed", proc.stdout)
    if not match:
        fail(f"schemathesis run '{name}': no test-case summary in its output")
    generated, passed = int(match.group(1)), int(match.group(2))
    if generated == 0 or generated != passed:
        fail(f"schemathesis run '{name}': {generated} generated, {passed} passed")
    return generated


ADMIN = "files:read files:write files:delete files:admin"


def wait_uploaded(base, token, file_id):
    """Waits (up to 5 s) until the embedded endpoint's S3 event has marked the file uploaded."""
    for _ in range(100):
        _, file = api("GET", base, f"/files/{file_id}", token)
        if file["status"] == "uploaded":
            return
        time.sleep(0.05)
    fail(f"the seeded upload of {file_id} never completed")
SEEDED_COLLECTION = "seeded"


def seed_tenant(base, token, admin):
    """Tenant A's files: uploaded (single PUT), pending, a multipart upload with one part, and a
    pending file in a collection of A's own (with rules and limits)."""
    status, made = api("POST", base, "/collections", admin, {
        "name": SEEDED_COLLECTION, "allowedMimeTypes": ["text/*"], "maxFileSize": 1000,
        "maxFiles": 10})
    assert status == 201, made
    status, limits = api("PUT", base, "/usage/limits", admin, {"maxFiles": 1000})
    assert status == 200, limits
    status, created = api("POST", base, "/files", token, {
        "collection": SEEDED_COLLECTION, "name": "d.txt", "mimeType": "text/plain", "size": 3})
    assert status == 201, created
    in_collection = created["file"]["id"]
    status, created = api("POST", base, "/files", token, {
        "name": "a.txt", "mimeType": "text/plain", "size": 5, "tags": ["seed"], "purpose": "seed"})
    assert status == 201, created
    uploaded = created["file"]["id"]
    status, _, _ = request("PUT", created["upload"]["url"], body=b"hello", content_type="text/plain",
                           extra=created["upload"]["headers"])
    assert status == 200, status
    wait_uploaded(base, token, uploaded)
    status, created = api("POST", base, "/files", token, {
        "name": "b.bin", "mimeType": "application/octet-stream", "externalId": "seed-b"})
    assert status == 201, created
    pending = created["file"]["id"]
    status, created = api("POST", base, "/files", token, {
        "name": "c.bin", "mimeType": "application/octet-stream", "expectedSize": 12 * 1024 * 1024,
        "multipart": True})
    assert status == 201, created
    multipart = created["file"]["id"]
    part = created["upload"]["parts"][0]
    status, _, _ = request("PUT", part["url"], body=b"x" * part["size"], content_type="application/octet-stream")
    assert status == 200, status
    return [uploaded, pending, multipart, in_collection]


GUARDED_COLLECTION = "guarded"


def seed_guarded(base, owner, admin):
    """Tenant "team": a fileSecurity collection only alice writes and nobody reads whole (and
    `default` locked the same way), with
    alice's uploaded file (shared with bob), a pending one and a multipart upload with a part."""
    status, made = api("POST", base, "/collections", admin, {
        "name": GUARDED_COLLECTION, "fileSecurity": True,
        "access": {"read": [], "write": ["user:alice"], "delete": []}})
    assert status == 201, made
    # `default` too: nothing in this tenant is open to a member but alice.
    status, made = api("PATCH", base, "/collections/default", admin, {
        "access": {"read": [], "write": ["user:alice"], "delete": []}})
    assert status == 200, made
    ids = []
    for body in [
        {"name": "a.txt", "mimeType": "text/plain", "size": 5,
         "grants": [{"principal": "user:bob", "role": "reader"}], "externalId": "guarded-a"},
        {"name": "b.bin", "mimeType": "application/octet-stream", "tags": ["seed"]},
        {"name": "c.bin", "mimeType": "application/octet-stream",
         "expectedSize": 12 * 1024 * 1024, "multipart": True},
    ]:
        status, created = api("POST", base, "/files", owner, {"collection": GUARDED_COLLECTION, **body})
        assert status == 201, created
        ids.append(created["file"]["id"])
        upload = created["upload"]
        if "parts" in upload:
            part = upload["parts"][0]
            status, _, _ = request("PUT", part["url"], body=b"x" * part["size"],
                                   content_type="application/octet-stream")
            assert status == 200, status
        elif body.get("size"):
            status, _, _ = request("PUT", upload["url"], body=b"hello", content_type="text/plain",
                                   extra=upload["headers"])
            assert status == 200, status
    wait_uploaded(base, owner, ids[0])
    return ids


def snapshot(base, token, ids):
    """What tenant A can see of its files: records (without the re-signed URL), parts, bytes."""
    state = {}
    for file_id in ids:
        status, record = api("GET", base, f"/files/{file_id}", token)
        assert status == 200, (file_id, status, record)
        url = record.pop("contentUrl")
        content = request("GET", url)[1] if url else None
        _, parts = api("GET", base, f"/files/{file_id}/upload/parts", token)
        state[file_id] = (record, content, parts)
    status, page = api("GET", base, "/files?limit=1000", token)
    state["list"] = sorted(item["id"] for item in page["items"])
    status, state["collections"] = api("GET", base, "/collections", token)
    assert status == 200, state["collections"]
    status, state["usage"] = api("GET", base, "/usage", token)
    assert status == 200, state["usage"]
    return state


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--local", required=True, help="the stowage-local binary")
    parser.add_argument("--examples", type=int, default=100, help="max examples per operation")
    parser.add_argument("--seed", type=int, default=20261122)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stowage-fuzz-") as scratch:
        local = Local(options.local, str(Path(scratch) / "data"))
        try:
            base = local.url
            status, body, headers = request("GET", base + "/openapi.yaml")
            if status != 200 or body != SPEC.read_bytes():
                fail(f"GET /openapi.yaml without a token answered {status}, not this openapi.yaml")
            print(f"GET /openapi.yaml without a token: 200, {len(body)} bytes, {headers['content-type']}")

            acme = local.token("acme", "alice")
            globex, fuzz = (local.token(t, u, scope=ADMIN) for t, u in
                            [("globex", "bob"), ("fuzz", "mallory")])
            seeded = seed_tenant(base, acme, local.token("acme", "app", scope=ADMIN))
            before = snapshot(base, acme, seeded)

            # One worker: reproducible for a seed, and CPython 3.11's ast.parse (which Hypothesis
            # calls to describe filters) can fail with "AST constructor recursion depth
            # mismatch" when two threads call it at once.
            common = ["--seed", str(options.seed), "--max-examples", str(options.examples), "--workers", "1"]
            counts = {}
            counts["valid token"] = schemathesis(
                "valid token", base,
                [*common, "--checks", CHECKS + ",stowage_tenant_isolation,stowage_requires_token",
                 "-H", f"Authorization: Bearer {fuzz}"],
                {"STOWAGE_FUZZ_MODE": ""}, scratch)
            counts["no token"] = schemathesis(
                "no token", base,
                [*common, "--phases", "examples,coverage,fuzzing",
                 "--checks", "not_a_server_error,content_type_conformance,stowage_requires_token"],
                {"STOWAGE_FUZZ_MODE": "anonymous"}, scratch)
            def foreign_run(name, mode, token, ids, collection):
                """A run with `token` on files and a collection it must not reach."""
                counts[name] = schemathesis(
                    name, base,
                    [*common, "--phases", "examples,coverage,fuzzing",
                     "--checks", CHECKS + ",stowage_tenant_isolation,stowage_foreign_listing_is_empty",
                     "-H", f"Authorization: Bearer {token}"],
                    {"STOWAGE_FUZZ_MODE": mode, "STOWAGE_FUZZ_FOREIGN_IDS": ",".join(ids),
                     "STOWAGE_FUZZ_FOREIGN_COLLECTIONS": collection,
                     "STOWAGE_FUZZ_TOKEN": token}, scratch)

            foreign_run("other tenant", "foreign", globex, seeded, SEEDED_COLLECTION)

            after = snapshot(base, acme, seeded)
            if after != before:
                fail(f"tenant A's files changed during the other-tenant run:\n{before}\n{after}")
            print("tenant A's records, parts, bytes, collections and usage are unchanged after the other-tenant run")

            reader = local.token("acme", "reader", scope="files:read")
            counts["read-only token"] = schemathesis(
                "read-only token", base,
                [*common, "--phases", "examples,coverage",
                 "--checks", CHECKS + ",stowage_read_only",
                 "-H", f"Authorization: Bearer {reader}"],
                {"STOWAGE_FUZZ_MODE": "read-only", "STOWAGE_FUZZ_TOKEN": reader}, scratch)
            after = snapshot(base, acme, seeded)
            if after != before:
                fail(f"tenant A's files changed during the read-only run:\n{before}\n{after}")
            print("tenant A's records, parts, bytes, collections and usage are unchanged after the read-only run")

            team_app = local.token("team", "team-app", scope=ADMIN)
            guarded = seed_guarded(base, local.token("team", "alice"), team_app)
            team_before = snapshot(base, team_app, guarded)
            stranger = local.token("team", "stranger")
            foreign_run("same tenant, no grants", "stranger", stranger, guarded, GUARDED_COLLECTION)
            team_after = snapshot(base, team_app, guarded)
            if team_after != team_before:
                fail(f"tenant team's files changed during the same-tenant run:\n{team_before}\n{team_after}")
            print("tenant team's records, parts, bytes, collections, listing and usage are unchanged after the same-tenant run")
        finally:
            local.stop()

    total = sum(counts.values())
    print("\nfuzz summary: " + ", ".join(f"{name}: {n} cases" for name, n in counts.items())
          + f"; {total} in all, every one passed")


if __name__ == "__main__":
    main()
