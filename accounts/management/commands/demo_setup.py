from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

DEMO_STAFF_EMAIL = "staff@example.com"
DEMO_STAFF_PASSWORD = "demo-staff-2026"  # noqa: S105 - the embedded default only; printed by make run


class Command(BaseCommand):
    help = "Create the demo staff login of the embedded default (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_setup creates a known login: only with DEBUG on.")
        user, created = User.objects.get_or_create(
            email=DEMO_STAFF_EMAIL,
            defaults={"name": "Demo Staff", "is_staff": True, "is_superuser": True},
        )
        if created:
            user.set_password(DEMO_STAFF_PASSWORD)
            user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(
            user=user, email=DEMO_STAFF_EMAIL, defaults={"verified": True, "primary": True}
        )
        self.stdout.write(f"Demo staff login: {DEMO_STAFF_EMAIL} / {DEMO_STAFF_PASSWORD}")
