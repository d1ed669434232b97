"""The switching offer (003): free months granted by staff."""

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from portal.locks import lock
from subscriptions.models import LIVE_STATUSES, AuditEvent, Subscription
from subscriptions.services.auditing import audit
from subscriptions.services.errors import SubscriptionError

# --- switching offer (003) ---------------------------------------------------------------------

SWITCHING_OFFER_MAX_MONTHS = 3  # 003: "trois mois gratuits"


def switching_offer_grant(
    *, subscription: Subscription, months: int, actor: User, now: datetime
) -> Subscription:
    """003: staff grant up to 3 free months to a customer held by a previous provider's notice
    period; they are taken off the next invoices."""
    with transaction.atomic():
        sub = lock(Subscription, subscription.pk, "user")
        granted = sum(
            int(e.data.get("months", 0))
            for e in AuditEvent.objects.filter(subscription=sub, kind="switching_offer_granted")
        )
        if months < 1 or granted + months > SWITCHING_OFFER_MAX_MONTHS:
            raise SubscriptionError(
                _("The switching offer is at most %(max)s free months in all (%(granted)s given).")
                % {"max": SWITCHING_OFFER_MAX_MONTHS, "granted": granted}
            )
        if sub.status not in LIVE_STATUSES:
            raise SubscriptionError(_("This subscription has ended."))
        sub.free_months += months
        sub.save(update_fields=["free_months"])
        audit(
            user=sub.user,
            actor=actor,
            kind="switching_offer_granted",
            subscription=sub,
            months=months,
        )
    return sub
