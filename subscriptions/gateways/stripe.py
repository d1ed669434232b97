"""The only module that imports stripe: API version, base URL and error translation."""

import stripe
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class GatewayError(Exception):
    """A Stripe failure, with a message a customer can read."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


def configure() -> None:
    stripe.api_key = settings.STRIPE_SECRET_KEY
    stripe.api_version = settings.STRIPE_API_VERSION
    if settings.STRIPE_API_BASE:
        stripe.api_base = settings.STRIPE_API_BASE


def account_retrieve() -> dict[str, object]:
    try:
        return stripe.Account.retrieve().to_dict()
    except stripe.StripeError as exc:
        raise GatewayError(str(_("The payment service is unavailable, please try again."))) from exc
