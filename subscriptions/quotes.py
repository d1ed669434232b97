"""The quote a customer was shown, signed into the confirmation form (004: what the customer
confirms is what happens). Confirmed within `VALIDITY`, the quote of that moment is applied,
even if a boundary (the guarantee's last second, a month's end) passed in between; if what
that moment gives is no longer what was shown (a renewal or another refund in between), the
customer is shown the new quote instead."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.utils.translation import gettext as _

from subscriptions.policy import ShownCharge
from subscriptions.services.errors import QuoteChanged, SubscriptionError

VALIDITY = timedelta(minutes=30)
_SALT = "subscriptions.quote"


@dataclass(frozen=True)
class Shown:
    at: datetime
    summary: str  # what the page said, as `summary()` wrote it; "" when the form had no token


def summary(*values: object) -> str:
    return "|".join("" if v is None else str(v) for v in values)


def token(*, what: str, pk: int, quoted_at: datetime, shown: str) -> str:
    return signing.dumps([what, pk, quoted_at.isoformat(), shown], salt=_SALT)


def read(value: str, *, what: str, pk: int, now: datetime) -> Shown:
    """What the form says was shown, or `now` with nothing when it carried no token. An
    expired or altered one is refused: the customer is shown the quote again."""
    if not value:
        return Shown(now, "")
    try:
        signed_what, signed_pk, signed_at, shown = signing.loads(
            value, salt=_SALT, max_age=VALIDITY
        )
        quoted_at = datetime.fromisoformat(signed_at)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise SubscriptionError(_("This quote has expired: please read it again.")) from exc
    if signed_what != what or signed_pk != pk or quoted_at > now or now - quoted_at > VALIDITY:
        raise SubscriptionError(_("This quote has expired: please read it again."))
    return Shown(quoted_at, str(shown))


def check(shown: Shown, current: str) -> None:
    """Refuse when the quote at the moment shown is no longer what the page said."""
    if shown.summary and shown.summary != current:
        raise SubscriptionError(
            _("Your situation has changed since this page was shown: please read it again.")
        )


_CHARGE_SALT = "subscriptions.charge"


def charge_token(*, what: str, pk: int, charge: ShownCharge, quoted_at: datetime) -> str:
    """The charge a confirmation page shows (amount, currency, when), signed into its form:
    the service compares it with what it is about to take (`payments.charge_confirmed`)."""
    at = charge.at.isoformat() if charge.at else ""
    return signing.dumps(
        [what, pk, charge.amount, charge.currency, at, quoted_at.isoformat()], salt=_CHARGE_SALT
    )


def charge_read(value: str, *, what: str, pk: int, now: datetime) -> tuple[ShownCharge, datetime]:
    """The charge the confirmed page showed, and when. No charge without one: a form without
    it (or altered, or older than `VALIDITY`) is shown again with the amount to confirm."""
    try:
        signed_what, signed_pk, amount, currency, at, quoted = signing.loads(
            value, salt=_CHARGE_SALT, max_age=VALIDITY
        )
        quoted_at = datetime.fromisoformat(quoted)
        charge_at = datetime.fromisoformat(at) if at else None
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise QuoteChanged(_("Please check the amount below and confirm it.")) from exc
    if signed_what != what or signed_pk != pk or quoted_at > now:
        raise QuoteChanged(_("Please check the amount below and confirm it."))
    return ShownCharge(int(amount), str(currency), charge_at), quoted_at
