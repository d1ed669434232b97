"""`make run`: localstripe and the portal on 127.0.0.1, stopped together by Ctrl-C."""

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
    children = [
        subprocess.Popen(
            [
                python,
                "-m",
                "devtools.localstripe_server",
                "--port",
                str(STRIPE_PORT),
                "--quiet",
                "--webhook-url",
                webhook["url"],
                "--webhook-secret",
                webhook["secret"],
            ],
            cwd=ROOT,
            env=env,
        )
    ]
    try:
        _wait_for(f"{stripe_url}/_config/health")
        children.append(
            subprocess.Popen(
                [python, "manage.py", "runserver", f"{HOST}:{PORTAL_PORT}"], cwd=ROOT, env=env
            )
        )
        _wait_for(f"{portal_url}/fr/")
        print(
            "\n".join(
                [
                    "",
                    f"  Portal        {portal_url}/fr/  (English: {portal_url}/en/)",
                    f"  Staff admin   {portal_url}/fr/admin/",
                    f"  E-mail outbox {portal_url}/fr/outbox/  (staff)",
                    f"  localstripe   {stripe_url}  (webhooks -> {webhook['url']})",
                    "  Demo staff    staff@example.com / demo-staff-2026",
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
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
