"""What the page and webhook benches share: the production stack on this machine (gunicorn with
2 workers on `portal.settings.production`, PostgreSQL, Redis), two reference views served by
the same processes, and an HTTP load that runs the pages it compares in turn.

The reference views live in `bench/bench_urls.py` (added to the portal's URLs by
`bench/bench_settings.py`, never by the portal itself):
- `/bench/bare/`: a Django view through the whole middleware stack that reads nothing;
- `/bench/minimal/`: the minimal authenticated page, the session and the user read and the
  base layout rendered, no other query.
"""

import argparse
import contextlib
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.client import HTTPConnection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def production_env(database_url: str, redis: str, port: int) -> dict[str, str]:
    """The environment the README lists for production, on this machine's services."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "DJANGO_SETTINGS_MODULE": "bench_settings",  # production + bench_urls.py
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": f"{HOST},localhost",
        "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{HOST}:{port}",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": f"{redis}/14",
        "CACHE_URL": f"{redis}/15",
        "EMAIL_URL": "dummymail://",
        "STRIPE_API_BASE": "http://127.0.0.1:1",  # nothing here may call Stripe
        "SITE_URL": f"http://{HOST}:{port}",
        "DEFAULT_FROM_EMAIL": "bench@portal.localhost",
        "SUPPORT_EMAIL": "support@portal.localhost",
        "VENDOR_NAME": "e-confiance SAS",
        "TRUSTED_PROXY_COUNT": "0",
        "LOG_LEVEL": "WARNING",
    }


def arguments() -> argparse.ArgumentParser:
    """What the page and webhook benches are run with."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--seconds", type=float, default=3.0, help="each measure")
    parser.add_argument("--threads", type=int, default=4, help="per worker, as the Procfile")
    return parser


def prepared(args: argparse.Namespace, port: int) -> dict[str, str]:
    """The environment for `args`, its Redis databases emptied and its database migrated,
    and this process set up on it."""
    env = production_env(args.database_url, args.redis, port)
    for db in ("14", "15"):
        subprocess.run(["redis-cli", "-n", db, "flushdb"], check=False, capture_output=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    django_setup(env)
    return env


def django_setup(env: dict[str, str]) -> None:
    """This process as the web processes are: the same settings and services."""
    os.environ.update(env)
    sys.path[:0] = [str(ROOT), str(BENCH)]
    import django

    django.setup()


@contextlib.contextmanager
def gunicorn(env: dict[str, str], port: int, workers: int = 2, threads: int = 4) -> Iterator[str]:
    """The Procfile's web process with `workers` workers of `threads` threads each (gunicorn's
    gthread worker; 1 thread: its sync worker), stopped on leaving."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log = open(BENCH / f"gunicorn-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(workers),
            *(("--worker-class", "gthread", "--threads", str(threads)) if threads > 1 else ()),
            "--env",
            "DJANGO_SETTINGS_MODULE=bench_settings",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/bench/bare/", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((BENCH / f"gunicorn-{port}.log").read_text()) from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        (BENCH / f"gunicorn-{port}.log").unlink(missing_ok=True)


Request = Callable[[HTTPConnection], int]


def get(path: str, cookie: str = "") -> Request:
    headers = {"Cookie": cookie} if cookie else {}
    headers["X-Forwarded-Proto"] = "https"

    def send(conn: HTTPConnection) -> int:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}")
        return response.status

    return send


def throughput(base: str, request: Request, *, seconds: float, clients: int = 4) -> float:
    """Requests answered per second by `clients` threads sending `request` for `seconds`.
    An answer the request does not expect stops the bench: a failing page is not measured."""
    host, port = base.removeprefix("http://").split(":")
    done = [0] * clients
    failed: list[Exception] = []
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        while time.monotonic() < stop and not failed:
            conn = HTTPConnection(host, int(port), timeout=30)  # sync workers close each one
            try:
                request(conn)
            except Exception as exc:  # reported below: the bench stops
                failed.append(exc)
            conn.close()
            done[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return sum(done) / (time.monotonic() - started)


def interleaved(
    base: str, requests: dict[str, Request], *, rounds: int = 3, seconds: float = 3.0
) -> dict[str, list[float]]:
    """Each request's throughput, the requests taken in turn in each round, so the machine's
    noise falls on all of them alike."""
    measured: dict[str, list[float]] = {name: [] for name in requests}
    for request in requests.values():  # warm each worker's caches once
        throughput(base, request, seconds=0.5)
    for _ in range(rounds):
        for name, request in requests.items():
            measured[name].append(throughput(base, request, seconds=seconds))
    return measured


def ratio_line(name: str, runs: list[float], reference: list[float]) -> str:
    """`name`: median requests/s and spread, and its ratio to the reference run by run."""
    ratios = [a / b for a, b in zip(runs, reference, strict=True)]
    return (
        f"  {name:22} {statistics.median(runs):7.1f}/s ({min(runs):.1f}-{max(runs):.1f})"
        f"  ratio {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
    )
