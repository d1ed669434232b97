"""The bottom of the services: the one error a customer is shown, and the gateway's.

Views catch `GatewayError` from here, so that only services talk to the gateway."""

from subscriptions.gateways.stripe import GatewayError

__all__ = ["GatewayError", "QuoteChanged", "SubscriptionConflict", "SubscriptionError"]


class SubscriptionError(Exception):
    """A rule or a payment said no; the message is shown to the customer as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SubscriptionConflict(SubscriptionError):
    """Another request (a second click, another tab, a colleague) got there first: what it
    asked is done or being done. The message says what stands; views answer 409."""


class QuoteChanged(SubscriptionError):
    """What would be charged is no longer what the page showed (a card that already served a
    trial, a changed period, a missing confirmation): nothing was done, and the page is to
    be shown again with the new amount for the customer to confirm."""
