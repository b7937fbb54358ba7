"""Realtime: every change of the files this identity may read, over AppSync Events' WebSocket
protocol (a deployed stack's AppSync API, or ``stowage-local``'s ``/event/realtime``). Needs the
``realtime`` extra (``websockets``)."""

from __future__ import annotations

import base64
import collections
import json
import random
import threading
from collections.abc import Callable
from typing import Any, Literal

from ._errors import StowageError
from ._http import Http

EventCallback = Callable[[dict[str, Any]], None]
State = Literal["connecting", "live", "disconnected", "unavailable", "closed"]
StateCallback = Callable[[State], None]

#: Event ids remembered to drop repeats (one event on two channels, redeliveries).
SEEN_EVENTS = 1000


def _base64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


class Subscription:
    """A live subscription, run by a background thread; see :meth:`Stowage.subscribe`."""

    def __init__(
        self, http: Http, on_event: EventCallback, on_state: StateCallback | None = None
    ) -> None:
        try:
            from websockets.sync import client as ws_client
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError(
                "subscribe() needs the realtime extra: pip install 'stowage-client[realtime]'"
            ) from err
        self._connect = ws_client.connect
        self._http = http
        self._on_event = on_event
        self._on_state = on_state
        self._closed = threading.Event()
        self._live = threading.Event()
        self._lock = threading.Lock()
        self._socket: Any = None
        self._seen: collections.deque[str] = collections.deque(maxlen=SEEN_EVENTS)
        self._seen_set: set[str] = set()
        self.state: State = "connecting"
        #: The last error that broke a connection (for logs).
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="stowage-realtime", daemon=True)
        self._thread.start()

    def wait_live(self, timeout: float | None = None) -> bool:
        """Blocks until every channel is subscribed (``True``), or ``timeout`` seconds."""
        return self._live.wait(timeout)

    def close(self) -> None:
        """Stops the subscription and waits for its thread."""
        self._closed.set()
        with self._lock:
            socket = self._socket
        if socket is not None:
            try:
                socket.close()
            except Exception:
                pass
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        self._state("closed")

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _state(self, state: State) -> None:
        self.state = state
        if state != "live":
            self._live.clear()
        else:
            self._live.set()
        if self._on_state is not None:
            self._on_state(state)

    def _run(self) -> None:
        attempt = 0
        while not self._closed.is_set():
            self._state("connecting")
            try:
                info = self._http.json("GET", "/realtime")
            except StowageError as err:
                if err.status == 404 and err.code == "realtime_unavailable":
                    self._state("unavailable")
                    return
                self.last_error = err
                info = None
            except Exception as err:
                self.last_error = err
                info = None
            if info is not None:
                try:
                    if self._session(info):
                        attempt = 0
                except Exception as err:
                    self.last_error = err
            if self._closed.is_set():
                return
            self._state("disconnected")
            delay = min(30.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2)
            attempt += 1
            self._closed.wait(delay)

    def _session(self, info: dict[str, Any]) -> bool:
        """One connection: init, subscribe to every channel, deliver events until it closes.
        Returns whether it got live."""
        token = self._http.token()
        header = _base64url(json.dumps({"host": info["host"], "Authorization": token}))
        channels: list[str] = list(info["channels"])
        got_live = False
        with self._connect(
            info["url"],
            subprotocols=["aws-appsync-event-ws", f"header-{header}"],  # type: ignore[list-item]
            open_timeout=10,
            close_timeout=2,
        ) as socket:
            with self._lock:
                if self._closed.is_set():
                    return False
                self._socket = socket
            try:
                socket.send(json.dumps({"type": "connection_init"}))
                timeout = 300.0
                pending = set()
                while not self._closed.is_set():
                    try:
                        raw = socket.recv(timeout=timeout)
                    except TimeoutError:
                        return got_live  # no keep-alive within the connection timeout
                    try:
                        msg = json.loads(raw)
                    except ValueError:
                        continue
                    kind = msg.get("type")
                    if kind == "connection_ack":
                        timeout = max(1.0, int(msg.get("connectionTimeoutMs", 300000)) / 1000)
                        for i, channel in enumerate(channels):
                            sub_id = f"stowage-{i}"
                            pending.add(sub_id)
                            socket.send(
                                json.dumps(
                                    {
                                        "type": "subscribe",
                                        "id": sub_id,
                                        "channel": channel,
                                        "authorization": {
                                            "host": info["host"],
                                            "Authorization": token,
                                        },
                                    }
                                )
                            )
                    elif kind == "subscribe_success":
                        pending.discard(msg.get("id"))
                        if not pending and not got_live:
                            got_live = True
                            self._state("live")
                    elif kind in ("subscribe_error", "connection_error", "error"):
                        self.last_error = RuntimeError(f"realtime: {json.dumps(msg)}")
                        return got_live
                    elif kind == "data":
                        self._deliver(msg.get("event"))
            finally:
                with self._lock:
                    self._socket = None
        return got_live

    def _deliver(self, raw: Any) -> None:
        try:
            event = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        event_id = event.get("eventId")
        if isinstance(event_id, str):
            if event_id in self._seen_set:
                return
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(event_id)
            self._seen_set.add(event_id)
        self._on_event(event)
