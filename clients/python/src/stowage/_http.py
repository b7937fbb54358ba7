"""One HTTP layer for the API and for presigned storage URLs: the bearer token, retries of busy
answers (``429``/``503``, honouring ``Retry-After``), and problem+json errors."""

from __future__ import annotations

import email.utils
import json as _json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, Union

import httpx

from ._errors import StowageError

TokenSource = Union[str, Callable[[], str]]

#: Answers worth another attempt after a wait: throttling and "busy" (API Gateway's 429,
#: Stowage's 503 unavailable, S3's 503 SlowDown).
BUSY = frozenset({429, 503})
#: Server errors a presigned storage request is retried on (S3 asks clients to retry these).
STORAGE_RETRY = frozenset({500, 502, 503, 504, 429})


def retry_after(response: httpx.Response, cap: float) -> float | None:
    """The wait a response asks for in ``Retry-After`` (seconds or an HTTP date), at most
    ``cap``; ``None`` when it names none or one that cannot be read."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(int(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return min(max(seconds, 0.0), cap)


def backoff(attempt: int, cap: float) -> float:
    """The wait before attempt ``attempt + 1`` when the server names none: about 0.5 s, 1 s,
    2 s, … (with a little jitter), at most ``cap``."""
    base = 0.5 * (2 ** min(max(attempt - 1, 0), 8))
    return float(min(cap, base * random.uniform(1.0, 1.2)))


class Http:
    """Calls the API at ``endpoint`` with the bearer token; sends presigned requests without it."""

    def __init__(
        self,
        endpoint: str,
        token: TokenSource,
        *,
        client: httpx.Client | None,
        timeout: float | httpx.Timeout,
        max_attempts: int,
        max_wait: float,
        user_agent: str,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, not {endpoint!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.endpoint = endpoint.rstrip("/")
        self._token = token
        self._own_client = client is None
        # Redirects are never followed: the token must not travel to a storage URL, and the
        # content route's 302 is read, not chased.
        self.client = client or httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.user_agent = user_agent

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def token(self) -> str:
        value = self._token() if callable(self._token) else self._token
        if not isinstance(value, str) or not value.strip():
            raise ValueError("the token (or the token callable's result) must be a non-empty string")
        value = value.strip()
        return value[7:].strip() if value[:7].lower() == "bearer " else value

    def _wait(self, response: httpx.Response | None, attempt: int) -> float:
        named = retry_after(response, self.max_wait) if response is not None else None
        return named if named is not None else backoff(attempt, self.max_wait)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        """One API call. ``429`` and ``503`` are retried after ``Retry-After`` (or with
        backoff) up to ``max_attempts`` times in all; a transport failure is retried only when
        the call is idempotent (by default: ``GET``, ``PUT``, ``DELETE``). Any other ``4xx`` or
        ``5xx`` raises :class:`StowageError` at once. The response's body is read."""
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        url = self.endpoint + path
        attempt = 0
        while True:
            attempt += 1
            send_headers = {
                "authorization": f"Bearer {self.token()}",
                "accept": "application/json",
                "user-agent": self.user_agent,
            }
            body: bytes | None = None
            if json is not None:
                body = _json.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
                send_headers["content-type"] = content_type
            if headers:
                send_headers.update(headers)
            try:
                response = self.client.request(
                    method, url, content=body, params=_params(params), headers=send_headers
                )
            except httpx.TransportError:
                if not idempotent or attempt >= self.max_attempts:
                    raise
                time.sleep(backoff(attempt, self.max_wait))
                continue
            if response.status_code in BUSY and attempt < self.max_attempts:
                time.sleep(self._wait(response, attempt))
                continue
            if response.status_code >= 400:
                raise StowageError.from_response(response)
            return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()


def _params(
    params: Mapping[str, Any] | Iterable[tuple[str, Any]] | None,
) -> list[tuple[str, str | int | float | bool | None]] | None:
    """Query parameters with ``None`` left out, lists repeated and booleans in JSON's spelling."""
    if params is None:
        return None
    items = params.items() if isinstance(params, Mapping) else params
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in items:
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, bool):
                out.append((key, "true" if v else "false"))
            elif isinstance(v, datetime):
                out.append((key, _rfc3339(v)))
            else:
                out.append((key, str(v)))
    return out


def _rfc3339(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    text = when.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
