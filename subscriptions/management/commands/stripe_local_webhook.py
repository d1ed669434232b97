import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from djstripe.models import WebhookEndpoint

ENDPOINT_ID = "we_localstripe"
SECRET = "whsec_localstripe_portal_signing_secret"  # noqa: S105 - localstripe only


class Command(BaseCommand):
    help = (
        "Create (once) the dj-stripe webhook endpoint that localstripe delivers to, and print "
        "its URL and signing secret as JSON. Refused against the real Stripe."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.STRIPE_API_BASE.startswith("http://127.0.0.1"):
            raise CommandError("Only for localstripe on 127.0.0.1 (set STRIPE_API_BASE).")
        endpoint, _ = WebhookEndpoint.objects.get_or_create(
            id=ENDPOINT_ID,
            defaults={
                "livemode": False,
                "secret": SECRET,
                "url": "",
                "status": "enabled",
                "enabled_events": ["*"],
                "api_version": settings.STRIPE_API_VERSION,
            },
        )
        path = reverse("djstripe:djstripe_webhook_by_uuid", kwargs={"uuid": endpoint.djstripe_uuid})
        url = options["base_url"].rstrip("/") + path
        if endpoint.url != url:
            endpoint.url = url
            endpoint.save(update_fields=["url"])
        self.stdout.write(json.dumps({"url": url, "secret": endpoint.secret}))
