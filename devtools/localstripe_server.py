"""Run localstripe (a stateful fake Stripe API) on loopback, for development and tests.

localstripe's own command binds every interface and pickles its state to
``/tmp/localstripe.pickle``. This wrapper serves the same aiohttp handlers but:

* binds 127.0.0.1 only, on the given port (0 lets the OS pick a free one);
* keeps the state file under the project (default ``var/localstripe.pickle``) and
  writes it atomically;
* adds what dj-stripe and the portal need and localstripe lacks:
  ``GET /v1/account`` and ``GET /v1/accounts/<id>`` (dj-stripe looks up the account
  that owns the API key before it stores any object), ``DELETE /_config/webhooks/<name>``
  and ``GET /_config/health``;
* reports missing objects and unknown URLs the way Stripe does (a JSON
  ``invalid_request_error`` with ``code: resource_missing``), so stripe-python raises
  ``InvalidRequestError`` and dj-stripe treats a vanished object as absent.

Command line (runs until Ctrl-C or SIGTERM)::

    python -m devtools.localstripe_server --port 8420 \\
        --webhook-url http://127.0.0.1:8000/stripe/webhook/<uuid>/ --webhook-secret whsec_...

Python::

    server = start_in_thread(port=0, state_path=tmp_path / "localstripe.pickle")
    stripe.api_base = server.url
    server.register_webhook("http://127.0.0.1:8000/stripe/webhook/<uuid>/", "whsec_...")
    ...
    server.stop()

localstripe keeps its objects and webhooks in module globals, so a process runs at most
one server at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http.client
import json
import logging
import os
import pickle
import re
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace, TracebackType
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8420
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_PATH = REPO_ROOT / "var" / "localstripe.pickle"
DEFAULT_WEBHOOK_NAME = "portal"

# localstripe accepts any "sk_..." key; dj-stripe only stores keys matching
# ^(pk|sk|rk)_(test|live)_[a-zA-Z0-9]{24,}$, hence the padding.
SECRET_KEY = "sk_test_localstripe0000000000000"  # noqa: S105 (fake, localstripe only)
PUBLISHABLE_KEY = "pk_test_localstripe0000000000000"

ACCOUNT_ID = "acct_localstripe"
_ACCOUNT_CREATED = 1704067200  # 2024-01-01T00:00:00Z


def account_object() -> dict[str, Any]:
    """The Account returned for the API key (Stripe's ``GET /v1/account``)."""
    return {
        "id": ACCOUNT_ID,
        "object": "account",
        "business_profile": {
            "mcc": "5734",
            "name": "Subscription portal (localstripe)",
            "product_description": "Subscription software",
            "support_email": "support@example.com",
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "FR",
        "created": _ACCOUNT_CREATED,
        "default_currency": "eur",
        "details_submitted": True,
        "email": "billing@example.com",
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/accounts/{ACCOUNT_ID}/external_accounts",
        },
        "metadata": {},
        "payouts_enabled": True,
        "requirements": {
            "alternatives": [],
            "current_deadline": None,
            "currently_due": [],
            "disabled_reason": None,
            "errors": [],
            "eventually_due": [],
            "past_due": [],
            "pending_verification": [],
        },
        "settings": {
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": False},
                "statement_descriptor_prefix": "PORTAL",
            },
            "dashboard": {
                "display_name": "Subscription portal (localstripe)",
                "timezone": "Europe/Paris",
            },
            "payments": {"statement_descriptor": "SUBSCRIPTION PORTAL"},
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 7, "interval": "daily"},
                "statement_descriptor": None,
            },
        },
        "tos_acceptance": {"date": _ACCOUNT_CREATED, "ip": None, "user_agent": None},
        "type": "standard",
    }


# --- localstripe, loaded lazily and pointed at our state file ---------------------------

_STATE: dict[str, Path | None] = {"path": None}
_PROCESS_LOCK = threading.Lock()
_ACTIVE: list[LocalStripe] = []


def _dump_store(store: Any) -> None:
    """Replacement for ``Store.dump_to_disk``: our path, written atomically."""
    path = _STATE["path"]
    if path is None:
        return
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        pickle.dump(store, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)


def _load_store(store: Any) -> None:
    """Replacement for ``Store.try_load_from_disk``: our path; a bad file is ignored."""
    path = _STATE["path"]
    if path is None:
        return
    try:
        with path.open("rb") as f:
            saved = pickle.load(f)  # noqa: S301 (our own state file)
    except FileNotFoundError:
        return
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
        logger.warning("ignoring unreadable localstripe state %s: %s", path, exc)
        return
    dict.clear(store)
    dict.update(store, saved)


@functools.cache
def _localstripe() -> SimpleNamespace:
    # localstripe registers plain (non-async) handlers, which aiohttp warns about at import.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from localstripe import resources, server, webhooks
        from localstripe.errors import UserError
    resources.Store.dump_to_disk = _dump_store
    resources.Store.try_load_from_disk = _load_store
    return SimpleNamespace(
        resources=resources, server=server, webhooks=webhooks, UserError=UserError
    )


def _prepare_process(state_path: Path, *, from_scratch: bool) -> None:
    """Point localstripe's global store at ``state_path`` and load it (or start empty)."""
    ls = _localstripe()
    state_path.parent.mkdir(parents=True, exist_ok=True)
    _STATE["path"] = state_path
    store = ls.resources.store
    dict.clear(store)
    if from_scratch:
        store.dump_to_disk()
    else:
        store.try_load_from_disk()
    # Webhooks live only in memory: each run registers its own.
    ls.webhooks._webhooks.clear()


# --- the aiohttp application -------------------------------------------------------------


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda x: json.dumps(x, indent=2, sort_keys=True) + "\n"
    )


async def _get_account(request: web.Request) -> web.Response:
    return _json(account_object())


async def _get_account_by_id(request: web.Request) -> web.Response:
    account_id = request.match_info["id"]
    if account_id != ACCOUNT_ID:
        raise _localstripe().UserError(
            404, f"No such account: '{account_id}'", {"code": "resource_missing", "param": "id"}
        )
    return _json(account_object())


async def _unregister_webhook(request: web.Request) -> web.Response:
    _localstripe().webhooks._webhooks.pop(request.match_info["id"], None)
    return web.Response()


def _filtered_list(request: web.Request, kind: str, field: str) -> web.Response:
    """Stripe's ``GET /v1/<kind>s?<field>=``, newest first: localstripe refuses the filter,
    and the portal uses it to learn whether a charge or a refund it never heard back about
    exists (by the attempt's or the refund's id in the metadata)."""
    ls = _localstripe()
    wanted = request.query.get(field)
    try:
        limit = max(1, min(100, int(request.query.get("limit", "10"))))
    except ValueError as exc:
        raise ls.UserError(400, "Invalid limit") from exc
    found = [
        value
        for key, value in ls.resources.store.items()
        if key.startswith(f"{kind}:") and wanted in (None, getattr(value, field, None))
    ]
    found.sort(key=lambda obj: obj.created, reverse=True)
    return _json(
        {
            "object": "list",
            "url": f"/v1/{kind}s",
            "has_more": len(found) > limit,
            "data": [obj._export() for obj in found[:limit]],
        }
    )


async def _list_payment_intents(request: web.Request) -> web.Response:
    return _filtered_list(request, "payment_intent", "customer")


async def _list_refunds(request: web.Request) -> web.Response:
    return _filtered_list(request, "refund", "charge")


async def _health(request: web.Request) -> web.Response:
    return _json({"ok": True, "account": ACCOUNT_ID})


_OBJECT_URL = re.compile(r"/v1/(?P<kind>[a-z_]+)/(?P<id>[A-Za-z0-9_]+)")


@web.middleware
async def _stripe_style_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Give localstripe's bare 404s Stripe's shape (``code: resource_missing``)."""
    user_error = _localstripe().UserError
    try:
        return await handler(request)
    except user_error as exc:
        error = exc.body["error"]
        if exc.code == 404 and "code" not in error:
            error["code"] = "resource_missing"
            match = _OBJECT_URL.fullmatch(request.path)
            if match and request.method in ("GET", "DELETE"):
                kind = match["kind"].removesuffix("s")
                error["message"] = f"No such {kind}: '{match['id']}'"
                error["param"] = "id"
        raise
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        raise user_error(
            404,
            f"Unrecognized request URL ({request.method}: {request.path}).",
        ) from exc


def build_app() -> web.Application:
    """A fresh aiohttp app: localstripe's routes and middlewares plus ours."""
    ls = _localstripe()
    app = web.Application(
        middlewares=[
            ls.server.error_middleware,
            _stripe_style_errors,
            ls.server.auth_middleware,
            ls.server.save_store_middleware,
        ]
    )
    app.on_response_prepare.append(ls.server.add_cors_headers)
    app.router.add_get("/v1/account", _get_account)
    app.router.add_get("/v1/accounts/{id}", _get_account_by_id)
    app.router.add_delete("/_config/webhooks/{id}", _unregister_webhook)
    app.router.add_get("/_config/health", _health)
    app.router.add_get("/v1/payment_intents", _list_payment_intents)
    app.router.add_get("/v1/refunds", _list_refunds)
    # localstripe's module-level app can only ever run on one event loop: copy its routes
    # (already wrapped as coroutines, in their original order) instead of reusing it.
    for route in ls.server.app.router.routes():
        if route.resource is not None:
            app.router.add_route(route.method, route.resource.canonical, route.handler)
    return app


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


async def _serve(sock: socket.socket, *, access_log: bool) -> web.AppRunner:
    runner = web.AppRunner(
        build_app(), access_log=logging.getLogger("aiohttp.access") if access_log else None
    )
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner


# --- clients and the threaded server -----------------------------------------------------


class LocalStripeClient:
    """Talks to the ``/_config`` API of a localstripe server (ours or already running)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    @property
    def js_url(self) -> str:
        """Where the fake Stripe.js is served (use it instead of https://js.stripe.com/v3/)."""
        return f"{self.url}/js.stripe.com/v3/"

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> bytes:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=10)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status >= 300:
            raise RuntimeError(
                f"localstripe {method} {path} failed: {response.status} {data[:200]!r}"
            )
        return data

    def register_webhook(
        self,
        url: str,
        secret: str,
        events: Iterable[str] | None = None,
        name: str = DEFAULT_WEBHOOK_NAME,
    ) -> None:
        """Send signed events to ``url`` (all types, or only ``events``).

        Registering the same ``name`` again replaces the previous registration.
        Events are posted about one second after the API call that caused them.
        """
        body: dict[str, Any] = {"url": url, "secret": secret}
        if events is not None:
            body["events"] = list(events)
        self._request("POST", f"/_config/webhooks/{name}", body)

    def unregister_webhook(self, name: str = DEFAULT_WEBHOOK_NAME) -> None:
        self._request("DELETE", f"/_config/webhooks/{name}")

    def flush(self) -> None:
        """Delete every stored object (registered webhooks are kept)."""
        self._request("DELETE", "/_config/data")

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self._request("GET", "/_config/health"))
        return result


class LocalStripe(LocalStripeClient):
    """A localstripe server on 127.0.0.1, run by an event loop in a background thread."""

    def __init__(
        self,
        port: int = 0,
        state_path: str | os.PathLike[str] | None = None,
        *,
        from_scratch: bool = False,
        access_log: bool = False,
    ) -> None:
        self.host = HOST
        self.port = port
        self.state_path = Path(state_path) if state_path is not None else DEFAULT_STATE_PATH
        self.from_scratch = from_scratch
        self.access_log = access_log
        self.bound_address: tuple[str, int] | None = None  # the socket's, once started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        super().__init__(self._base_url())

    def _base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LocalStripe:
        with _PROCESS_LOCK:
            if _ACTIVE:
                raise RuntimeError(
                    f"localstripe already runs in this process at {_ACTIVE[0].url}; "
                    "its state is global, so stop that server first"
                )
            sock = _bind(self.port)  # before touching the state: the port may be taken
            try:
                _prepare_process(self.state_path, from_scratch=self.from_scratch)
            except BaseException:
                sock.close()
                raise
            self.bound_address = sock.getsockname()
            self.port = sock.getsockname()[1]
            self.url = self._base_url()

            loop = asyncio.new_event_loop()
            ready = threading.Event()
            failure: list[BaseException] = []
            thread = threading.Thread(
                target=self._run,
                args=(loop, sock, ready, failure),
                name=f"localstripe-{self.port}",
                daemon=True,
            )
            thread.start()
            if not ready.wait(timeout=30):
                raise RuntimeError("localstripe did not start within 30 seconds")
            if failure:
                thread.join(timeout=5)
                raise failure[0]
            self._loop, self._thread = loop, thread
            _ACTIVE.append(self)
        return self

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        ready: threading.Event,
        failure: list[BaseException],
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            runner = loop.run_until_complete(_serve(sock, access_log=self.access_log))
        except BaseException as exc:
            failure.append(exc)
            sock.close()
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Stop serving (pending webhook deliveries are dropped). Safe to call twice."""
        with _PROCESS_LOCK:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            self._loop = self._thread = None
            if self in _ACTIVE:
                _ACTIVE.remove(self)
            if not _ACTIVE:
                _STATE["path"] = None

    def __enter__(self) -> LocalStripe:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LocalStripe {self.url} state={self.state_path}>"


def start_in_thread(
    port: int = 0,
    state_path: str | os.PathLike[str] | None = None,
    *,
    from_scratch: bool = False,
    access_log: bool = False,
) -> LocalStripe:
    """Start localstripe on 127.0.0.1:``port`` (0: a free port) in a background thread.

    ``state_path`` defaults to ``var/localstripe.pickle`` in the repository; its objects
    are loaded unless ``from_scratch``. Read the chosen port from ``.port`` / ``.url``.
    """
    return LocalStripe(port, state_path, from_scratch=from_scratch, access_log=access_log).start()


# --- command line ------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.localstripe_server",
        description="Run localstripe on 127.0.0.1 with its state under the project.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--state", type=Path, default=DEFAULT_STATE_PATH, help="state file (default: %(default)s)"
    )
    parser.add_argument(
        "--from-scratch",
        action="store_true",
        help="start with no objects instead of loading the state file",
    )
    parser.add_argument("--webhook-url", help="where to POST signed events")
    parser.add_argument("--webhook-secret", help="signing secret (whsec_...)")
    parser.add_argument(
        "--webhook-event",
        action="append",
        dest="webhook_events",
        metavar="TYPE",
        help="only send this event type (repeatable)",
    )
    parser.add_argument(
        "--webhook-name",
        default=DEFAULT_WEBHOOK_NAME,
        help="registration name (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")
    if args.webhook_url and not args.webhook_url.startswith(("http://", "https://")):
        parser.error("--webhook-url must be an http(s) URL")
    return args


async def _run_cli(args: argparse.Namespace) -> int:
    try:
        sock = _bind(args.port)
    except OSError as exc:
        print(f"localstripe: cannot listen on {HOST}:{args.port}: {exc}", file=sys.stderr)
        return 1
    _prepare_process(args.state, from_scratch=args.from_scratch)
    port = sock.getsockname()[1]
    runner = await _serve(sock, access_log=not args.quiet)
    client = LocalStripeClient(f"http://{HOST}:{port}")
    try:
        print(f"localstripe listening on {client.url} (state: {args.state})", flush=True)
        print(f"fake Stripe.js: {client.js_url}", flush=True)
        if args.webhook_url:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                None,
                functools.partial(
                    client.register_webhook,
                    args.webhook_url,
                    args.webhook_secret,
                    args.webhook_events,
                    args.webhook_name,
                ),
            )
            print(f"webhook {args.webhook_name!r} -> {args.webhook_url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return asyncio.run(_run_cli(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
