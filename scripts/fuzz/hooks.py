"""Schemathesis hooks for Stowage's fuzz runs (loaded through SCHEMATHESIS_HOOKS by run.py).

STOWAGE_FUZZ_MODE selects what the checks below enforce:

* ``anonymous`` — requests carry no token: every operation must answer 401 problem+json.
* ``foreign``   — requests carry tenant B's token and every file id they name (path ``{id}``,
  ``PATCH /files`` items, ``POST /files/delete`` ids) is rewritten to one of tenant A's ids
  (STOWAGE_FUZZ_FOREIGN_IDS, comma-separated), and every collection they name (path
  ``{name}``, ``collection`` of a create or a listing) to one of tenant A's own collections
  (STOWAGE_FUZZ_FOREIGN_COLLECTIONS): no such request may succeed.
* ``stranger``  — like ``foreign``, but the token is another *user of the same tenant* (no
  grants, not on the collection's lists) and the files and collection are in a ``fileSecurity``
  collection of that tenant; every create is sent into that collection. Nothing may
  succeed on those files: ``404`` as for another tenant's, ``403`` (``forbidden`` for a create
  in the collection, ``insufficient_scope`` for managing it); reading the collection's rules is
  a member's right and answers ``200``.
* ``read-only`` — requests carry tenant A's ``files:read`` token and the server requires scopes:
  every operation but the GETs must answer 403 ``insufficient_scope``.
* anything else — the hooks do nothing (the main run with a valid token).
"""

import json
import os
import random

import schemathesis

MODE = os.environ.get("STOWAGE_FUZZ_MODE", "")
TOKEN = os.environ.get("STOWAGE_FUZZ_TOKEN", "")
FOREIGN_IDS = [i for i in os.environ.get("STOWAGE_FUZZ_FOREIGN_IDS", "").split(",") if i]
FOREIGN_COLLECTIONS = [
    c for c in os.environ.get("STOWAGE_FUZZ_FOREIGN_COLLECTIONS", "").split(",") if c
]


def _body_json(response):
    try:
        return json.loads(response.content)
    except ValueError:
        return None


FOREIGN_MODES = ("foreign", "stranger")


@schemathesis.hook
def map_case(context, case):
    if MODE not in FOREIGN_MODES or not FOREIGN_IDS:
        return case
    pick = random.Random(repr(case.body) + repr(case.path_parameters)).choice
    if case.path_parameters and "id" in case.path_parameters:
        case.path_parameters["id"] = pick(FOREIGN_IDS)
    label = f"{case.method.upper()} {case.operation.path}"
    if FOREIGN_COLLECTIONS:
        if case.path_parameters and "name" in case.path_parameters:
            case.path_parameters["name"] = pick(FOREIGN_COLLECTIONS)
        if label == "POST /files" and isinstance(case.body, dict) and (
            "collection" in case.body or MODE == "stranger"
        ):
            case.body["collection"] = pick(FOREIGN_COLLECTIONS)
        if label == "GET /files" and case.query and "collection" in case.query:
            case.query["collection"] = pick(FOREIGN_COLLECTIONS)
    if label == "PATCH /files" and isinstance(case.body, list):
        for item in case.body:
            if isinstance(item, dict):
                item["id"] = pick(FOREIGN_IDS)
    if label == "POST /files/delete" and isinstance(case.body, dict):
        ids = case.body.get("ids")
        if isinstance(ids, list) and ids:
            case.body["ids"] = [pick(FOREIGN_IDS) for _ in ids]
    return case


def _names_foreign_id(case):
    if case.path_parameters and case.path_parameters.get("id") in FOREIGN_IDS:
        return True
    if case.path_parameters and case.path_parameters.get("name") in FOREIGN_COLLECTIONS:
        return True
    body = case.body
    label = f"{case.method.upper()} {case.operation.path}"
    if label == "POST /files" and isinstance(body, dict):
        return body.get("collection") in FOREIGN_COLLECTIONS
    if label == "GET /files":
        # Listing another tenant's collection name succeeds, empty: checked below.
        return False
    if isinstance(body, list):
        return any(isinstance(i, dict) and i.get("id") in FOREIGN_IDS for i in body)
    if isinstance(body, dict) and isinstance(body.get("ids"), list):
        return any(i in FOREIGN_IDS for i in body["ids"])
    return False


@schemathesis.check
def stowage_tenant_isolation(ctx, response, case):
    """In the foreign run, nothing that names tenant A's files may succeed for tenant B (in
    the stranger run: for another user of the tenant)."""
    if MODE not in FOREIGN_MODES or not _names_foreign_id(case):
        return None
    label = f"{case.method.upper()} {case.operation.path}"
    status = response.status_code
    if MODE == "stranger":
        code = (_body_json(response) or {}).get("code")
        if status == 403 and code in ("forbidden", "insufficient_scope"):
            return None
        if status == 200 and label == "GET /collections/{name}":
            return None
    if case.method.upper() != case.operation.method.upper():
        # An undeclared method: no route (405), or a CORS preflight (204, no data).
        if status == 405 or (status == 204 and case.method.upper() == "OPTIONS"):
            return None
    if label == "POST /files" and status == 404:
        if (_body_json(response) or {}).get("code") != "collection_not_found":
            raise AssertionError(f"a create in tenant A's collection answered {response.text[:200]}")
        return None
    if label == "POST /files/delete" and status == 200:
        body = _body_json(response) or {}
        if body.get("deleted"):
            raise AssertionError(f"tenant B deleted tenant A's files: {body}")
        return None
    if 200 <= status < 400:
        raise AssertionError(f"{label} on tenant A's file answered {status} to tenant B")
    if status == 401 and response.request.headers.get("Authorization") != f"Bearer {TOKEN}":
        # A coverage probe that dropped or mangled tenant B's token.
        return None
    if status not in (400, 404, 413, 415):
        raise AssertionError(f"{label} on tenant A's file answered {status}, not 404/4xx")
    return None


@schemathesis.check
def stowage_foreign_listing_is_empty(ctx, response, case):
    """In the foreign run, listing tenant A's collection name shows none of A's files."""
    if MODE not in FOREIGN_MODES or f"{case.method.upper()} {case.operation.path}" != "GET /files":
        return None
    if response.status_code == 200:
        items = (_body_json(response) or {}).get("items") or []
        leaked = [i.get("id") for i in items if i.get("id") in FOREIGN_IDS]
        if leaked:
            raise AssertionError(f"tenant B's listing holds tenant A's files: {leaked}")
    return None


@schemathesis.check
def stowage_requires_token(ctx, response, case):
    """In the anonymous run, every operation answers 401 problem+json with WWW-Authenticate."""
    if MODE != "anonymous":
        return None
    if case.method.upper() != case.operation.method.upper():
        # Coverage probes undeclared methods: 405 when no route has the method (API Gateway
        # also answers unmatched routes before its authorizer), 401 when the path also matches
        # another route's template (PUT /files/delete is PUT /files/{id}), and 204 for a CORS
        # preflight, which browsers send without credentials.
        allowed = {401, 405} | ({204} if case.method.upper() == "OPTIONS" else set())
        if response.status_code not in allowed:
            raise AssertionError(f"undeclared method answered {response.status_code}")
        return None
    if response.status_code == 413 and len(response.request.body or b"") > 262_144:
        # stowage-local refuses a body over the limit before reading anything else.
        return None
    if response.status_code != 401:
        raise AssertionError(f"answered {response.status_code} without a token, not 401")
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"401 with content type {content_type!r}")
    if (_body_json(response) or {}).get("code") != "unauthorized":
        raise AssertionError(f"401 without code 'unauthorized': {response.text[:200]}")
    return None


# Reads that take their ids in a body: files:read is their scope, as for a GET.
READ_POSTS = {"/files/get", "/files/links"}


@schemathesis.check
def stowage_read_only(ctx, response, case):
    """In the read-only run, only reads may do anything (GETs, and the POSTs that read many
    files at once); the rest is 403 insufficient_scope."""
    if MODE != "read-only":
        return None
    method = case.method.upper()
    status = response.status_code
    if status == 401 and response.request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return None  # a coverage probe that dropped or mangled the token
    if method in ("GET", "HEAD") or (method == "POST" and case.operation.path in READ_POSTS
                                     and method == case.operation.method.upper()):
        if status == 403:
            raise AssertionError(f"GET {case.operation.path} refused a files:read token: {response.text[:200]}")
        return None
    if method != case.operation.method.upper():
        # An undeclared method: no route (405), a CORS preflight (204), or another route's
        # template (PUT /files/delete is PUT /files/{id}), which needs files:write.
        if status in (204, 405, 403):
            return None
        raise AssertionError(f"undeclared {method} answered {status}")
    if status == 413 and len(response.request.body or b"") > 262_144:
        return None  # stowage-local refuses a body over the limit before reading anything else
    if status != 403 or (_body_json(response) or {}).get("code") != "insufficient_scope":
        raise AssertionError(f"{method} {case.operation.path} answered {status} to a read-only token, not 403 insufficient_scope")
    return None
