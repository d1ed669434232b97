from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User

DEMO_STAFF_EMAIL = "staff@example.com"
DEMO_STAFF_PASSWORD = "demo-staff-2026"  # noqa: S105 - the embedded default only; printed by make run
# Staff need TOTP for the admin: the demo staff's authenticator app takes this secret.
DEMO_TOTP_SECRET = "PORTALDEMOSTAFFTOTPSECRETAAAAAAA"  # noqa: S105 - embedded default only


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
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            TOTP.activate(user, DEMO_TOTP_SECRET)
        if not Authenticator.objects.filter(
            user=user, type=Authenticator.Type.RECOVERY_CODES
        ).exists():
            RecoveryCodes.activate(user)
        self.stdout.write(f"Demo staff login: {DEMO_STAFF_EMAIL} / {DEMO_STAFF_PASSWORD}")
        self.stdout.write(
            f"Demo staff TOTP secret: {DEMO_TOTP_SECRET} "
            f"(otpauth://totp/Portal:{DEMO_STAFF_EMAIL}?secret={DEMO_TOTP_SECRET}&issuer=Portal)"
        )
