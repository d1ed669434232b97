"""The moment a quote was shown, signed into the confirmation form (004: what the customer
confirms is what happens). Confirmed within `VALIDITY`, the quote of that moment is applied,
even if a boundary (the guarantee's last second, a month's end) passed in between."""

from datetime import datetime, timedelta

from django.core import signing
from django.utils.translation import gettext as _

from subscriptions.services import SubscriptionError

VALIDITY = timedelta(minutes=30)


def token(*, what: str, pk: int, quoted_at: datetime) -> str:
    return signing.dumps([what, pk, quoted_at.isoformat()], salt="subscriptions.quote")


def moment(value: str, *, what: str, pk: int, now: datetime) -> datetime:
    """The signed moment, or `now` when the form carried none. An expired or altered one is
    refused: the customer is shown the quote again."""
    if not value:
        return now
    try:
        signed_what, signed_pk, signed_at = signing.loads(
            value, salt="subscriptions.quote", max_age=VALIDITY
        )
        quoted_at = datetime.fromisoformat(signed_at)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise SubscriptionError(_("This quote has expired: please read it again.")) from exc
    if signed_what != what or signed_pk != pk or quoted_at > now or now - quoted_at > VALIDITY:
        raise SubscriptionError(_("This quote has expired: please read it again."))
    return quoted_at
