"""`make run`: localstripe, the portal and a Celery worker with beat on 127.0.0.1.

All are stopped together by Ctrl-C, a kill or a closed terminal. Each child runs in a
session of its own, so that a Ctrl-C reaches it once (through this launcher) and the whole
of it (the worker and its embedded beat) can be stopped as a group; it is also told to stop
if the launcher itself dies.
"""

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PORTAL_PORT = int(os.environ.get("PORTAL_PORT", "8000"))
STRIPE_PORT = int(os.environ.get("LOCALSTRIPE_PORT", "8420"))
# One worker process with two threads and beat embedded: enough for one person's portal.
WORKER_ARGS = [
    "-m",
    "celery",
    "-A",
    "portal",
    "worker",
    "--beat",
    "--pool",
    "threads",
    "--concurrency",
    "2",
    "--loglevel",
    "INFO",
    "--without-mingle",
    "--without-gossip",
]
BILLING_RUN_MINUTES = float(os.environ.get("BILLING_RUN_INTERVAL_SECONDS", "300")) / 60


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the launcher dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, start_new_session=True, preexec_fn=_die_with_parent
    )


def localstripe_args(port: int, webhook: dict[str, str], *extra: str) -> list[str]:
    """localstripe on 127.0.0.1:`port`, delivering signed events to the portal's endpoint."""
    return [
        "-m",
        "devtools.localstripe_server",
        "--port",
        str(port),
        "--quiet",
        "--webhook-url",
        webhook["url"],
        "--webhook-secret",
        webhook["secret"],
        *extra,
    ]


def stop_all(children: list[subprocess.Popen[bytes]], *, timeout: float = 15) -> None:
    """SIGTERM to each child's process group, then SIGKILL to any still there after `timeout`."""
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def main() -> int:
    # Ctrl-C, a `kill`, or the terminal closing all stop what was started: a shell that
    # starts this in the background ignores SIGINT, and SIGTERM would leave the children.
    for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _stop)
    stripe_url = f"http://{HOST}:{STRIPE_PORT}"
    portal_url = f"http://{HOST}:{PORTAL_PORT}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.local",
        "STRIPE_API_BASE": stripe_url,
        "STRIPE_JS_URL": f"{stripe_url}/js.stripe.com/v3/",
        # E-mail links (sent by the worker, outside any request) follow the port.
        "SITE_URL": os.environ.get("SITE_URL", portal_url),
    }
    python = sys.executable
    webhook = json.loads(
        subprocess.run(
            [python, "manage.py", "stripe_local_webhook", "--base-url", portal_url],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    children = [_start([python, *localstripe_args(STRIPE_PORT, webhook)], env)]
    try:
        _wait_for(f"{stripe_url}/_config/health")
        children.append(_start([python, "manage.py", "runserver", f"{HOST}:{PORTAL_PORT}"], env))
        # A real worker with beat: tasks run as in production (the export's progress bar
        # moves, retries wait their countdown) and the schedule fires.
        children.append(_start([python, *WORKER_ARGS], env))
        _wait_for(f"{portal_url}/fr/")
        print(
            "\n".join(
                [
                    "",
                    f"  Portal        {portal_url}/fr/  (English: {portal_url}/en/)",
                    f"  Staff admin   {portal_url}/fr/admin/",
                    f"  E-mail outbox {portal_url}/fr/outbox/  (superusers)",
                    f"  Health        {portal_url}/health/",
                    "  Celery        a worker with beat on var/celery/ (no server needed);",
                    f"                the billing run fires every {BILLING_RUN_MINUTES:g} minutes",
                    f"  localstripe   {stripe_url}  (webhooks -> {webhook['url']})",
                    "  Demo staff    staff@example.com / demo-staff-2026, then a TOTP code:",
                    "                secret PORTALDEMOSTAFFTOTPSECRETAAAAAAA (authenticator app)",
                    "  Test cards    4242 4242 4242 4242 (ok), 4000 0000 0000 0341 (declined)",
                    "",
                    "  Ctrl-C stops everything.",
                    "",
                ]
            ),
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        stop_all(children)
    return 0


if __name__ == "__main__":
    sys.exit(main())
