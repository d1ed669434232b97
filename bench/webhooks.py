"""Stripe webhooks acknowledged fast (issue 18, goal 5): signed events per second.

Serves the portal with gunicorn (2 workers of 4 threads as the Procfile, production settings,
PostgreSQL, Redis as the broker) and posts signed `payment_intent.succeeded` events, each with
its own id, from 4 client threads, in turn with the bare view in each of 3 rounds. The endpoint
checks the signature, stores the event and queues its processing; no Celery worker runs here,
so what is measured is the acknowledgement (the worker's side is tested in
tests/subscriptions/test_webhooks_queued.py: one Stripe fetch per event). Prints events per
second (goal at least 400) and their ratio to the bare view (goal at least 0.1). Run:

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE portal_bench_webhooks' postgres
    .venv/bin/python bench/webhooks.py \\
        --database-url postgres://postgres@127.0.0.1:5432/portal_bench_webhooks
"""

import hashlib
import hmac
import itertools
import json
import statistics
import subprocess
import sys
import time
from http.client import HTTPConnection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stack

SECRET = "whsec_bench_signing_secret"  # this bench's own endpoint
ids = itertools.count(1)


def endpoint_path() -> str:
    from django.conf import settings
    from djstripe.models import WebhookEndpoint

    endpoint, _ = WebhookEndpoint.objects.update_or_create(
        id="we_bench",
        defaults={
            "livemode": False,
            "secret": SECRET,
            "url": "http://127.0.0.1/",
            "status": "enabled",
            "enabled_events": ["*"],
            "api_version": settings.STRIPE_API_VERSION,
        },
    )
    return f"/stripe/webhook/{endpoint.djstripe_uuid}/"


def signed_event(path: str) -> stack.Request:
    """A new `payment_intent.succeeded` event at each call, signed as Stripe signs."""
    run = int(time.time())

    def send(conn: HTTPConnection) -> int:
        payload = json.dumps(
            {
                "id": f"evt_bench_{run}_{next(ids)}",
                "object": "event",
                "api_version": "2024-04-10",
                "created": int(time.time()),
                "type": "payment_intent.succeeded",
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "data": {"object": {"id": "pi_bench", "object": "payment_intent"}},
            }
        )
        stamp = int(time.time())
        mac = hmac.new(SECRET.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256)
        conn.request(
            "POST",
            path,
            body=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": f"t={stamp},v1={mac.hexdigest()}",
                "X-Forwarded-Proto": "https",
            },
        )
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"the webhook answered {response.status}")
        return response.status

    return send


def main() -> None:
    parser = stack.arguments()
    args = parser.parse_args()
    port = stack.free_port()
    env = stack.prepared(args, port)
    from djstripe.models import WebhookEventTrigger

    path = endpoint_path()
    before = WebhookEventTrigger.objects.count()
    requests = {"bare view": stack.get("/bench/bare/"), "webhook": signed_event(path)}
    with stack.gunicorn(env, port, threads=args.threads) as base:
        runs = stack.interleaved(base, requests, seconds=args.seconds)
    stored = WebhookEventTrigger.objects.filter(valid=True).count() - before
    queued = subprocess.run(
        ["redis-cli", "-n", "14", "llen", "celery"], capture_output=True, text=True, check=False
    ).stdout.strip()
    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=False, capture_output=True)
    print(f"\ngunicorn, 2 workers of {args.threads} thread(s), production settings")
    print("  requests/s: median (spread) of 3 interleaved rounds; ratio run by run")
    print(stack.ratio_line("bare view", runs["bare view"], runs["bare view"]))
    print(stack.ratio_line("signed webhook", runs["webhook"], runs["bare view"]))
    print(f"  events stored valid: {stored}, processing tasks queued: {queued}")
    print(f"  goal: >= 400 events/s (median {statistics.median(runs['webhook']):.0f}), >= 0.1")
    print("\ncommand: .venv/bin/python bench/webhooks.py --database-url ...")


if __name__ == "__main__":
    main()
