"""Changes to the terms: publishing a version (customers are e-mailed once), and recording
that a customer has seen one."""

from datetime import datetime

from celery import current_app
from django.db import transaction

from accounts.models import User
from legal.models import TermsAcceptance, TermsSeen, TermsVersion
from subscriptions import emails
from subscriptions.models import Subscription
from subscriptions.services.auditing import audit

BATCH_SIZE = 500


def terms_publish(*, version: TermsVersion, actor: User | None, now: datetime) -> bool:
    """Publish a version and e-mail customers after commit; False if it was already published."""
    with transaction.atomic():
        locked = TermsVersion.objects.select_for_update(of=("self",)).get(pk=version.pk)
        if locked.published_at is not None:
            return False
        locked.published_at = now
        locked.save(update_fields=["published_at"])
        audit(user=None, kind="terms_published", actor=actor, version=locked.version)
        version_id = locked.pk
        transaction.on_commit(
            lambda: current_app.tasks["legal.tasks.terms_notify"].delay(version_id=version_id)
        )
    version.refresh_from_db()
    return True


def terms_notify(*, version_id: int, now: datetime) -> int:
    """E-mail every active customer about a published version, once: the version is claimed
    first, so a second run (or a second publish) sends nothing. Returns how many were queued."""
    claimed = TermsVersion.objects.filter(
        pk=version_id, published_at__isnull=False, notified_at__isnull=True
    ).update(notified_at=now)
    if not claimed:
        return 0
    version = TermsVersion.objects.get(pk=version_id)
    customers = User.objects.filter(is_active=True, is_staff=False).order_by("pk")
    sent = 0
    # Outside a transaction: each e-mail is queued as its own task as soon as it is rendered.
    for user in customers.iterator(chunk_size=BATCH_SIZE):
        emails.email_user(user, "terms_updated", {"version": version})
        sent += 1
    return sent


def terms_seen_record(*, user: User, version: TermsVersion, now: datetime) -> TermsSeen:
    seen, _ = TermsSeen.objects.get_or_create(user=user, version=version, defaults={"seen_at": now})
    return seen


def terms_acceptance_record(
    *, user: User, version: TermsVersion, subscription: Subscription, now: datetime
) -> TermsAcceptance:
    """The customer ticked "I accept the terms" for this subscription: called inside the
    subscription's own transaction, once per version and subscription (a retried payment
    does not accept again)."""
    acceptance, _ = TermsAcceptance.objects.get_or_create(
        user=user, version=version, subscription=subscription, defaults={"accepted_at": now}
    )
    return acceptance
