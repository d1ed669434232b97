"""The README's first command from a fresh clone: `git clone`, then `make run`, nothing else.

    python -m devtools.smoke_fresh_clone

Clones this repository's HEAD into a temporary folder (no .venv, no var/), runs `make run`
there on spare ports, waits for /fr/ to list the four plans, prints the time from the clone
to that first page, then stops it with SIGTERM and checks that nothing it started is left.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLANS = ("Starter", "Standard", "Pro", "Premium")
LIMIT_SECONDS = 600  # a loaded machine; on an idle one it takes about 2 minutes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def page(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return str(response.read().decode())
    except (OSError, urllib.error.URLError):
        return None


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main() -> int:
    began = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="fresh-clone-"))
    clone = folder / "portal"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    portal_port, stripe_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "CACHE_", "VIRTUAL_ENV"))
    }
    env.update(PORTAL_PORT=str(portal_port), LOCALSTRIPE_PORT=str(stripe_port))
    log = folder / "make-run.log"
    run = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{portal_port}/fr/"
    try:
        html = None
        while time.monotonic() - began < LIMIT_SECONDS and run.poll() is None:
            html = page(url)
            if html is not None:
                break
            time.sleep(1)
        first_page = time.monotonic() - began
        if html is None or not all(plan in html for plan in PLANS):
            print(log.read_text()[-5000:], file=sys.stderr)
            raise SystemExit(f"{url} did not list the four plans within {LIMIT_SECONDS} s")
        print(f"fresh clone: git clone to the first page with the four plans in {first_page:.0f} s")
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=40)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    # make run's children live in sessions of their own: they must have stopped with it.
    # A worker in warm shutdown may take a few seconds more than the ports to go.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = subprocess.run(
            ["pgrep", "-a", "-f", str(clone)], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        if not (left or listening(portal_port) or listening(stripe_port)):
            break
        time.sleep(0.5)
    else:
        raise SystemExit(f"make run left processes behind: {left}")
    shutil.rmtree(folder, ignore_errors=True)
    print(f"fresh clone smoke passed in {time.monotonic() - began:.0f} s; everything stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
