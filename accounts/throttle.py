"""Per-customer limits on the actions that cost the vendor work (issue 13): exports, support
tickets, refund requests. A fixed window per action and customer, counted in the cache with
an atomic increment, so simultaneous requests cannot all slip under the limit."""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import ngettext


@dataclass(frozen=True)
class Throttled:
    """The action was refused: the customer may try again after `retry_after` seconds."""

    retry_after: int

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        return ngettext(
            "You have done this too many times in a short while. "
            "Please try again in %(minutes)d minute.",
            "You have done this too many times in a short while. "
            "Please try again in %(minutes)d minutes.",
            minutes,
        ) % {"minutes": minutes}


def throttle_hit(*, user_id: int, action: str, now: float | None = None) -> Throttled | None:
    """Count one `action` for the customer; a `Throttled` when it goes over the limit set in
    settings.THROTTLES[action] = (count, seconds)."""
    count, seconds = settings.THROTTLES[action]
    at = time.time() if now is None else now
    window = int(at // seconds)
    key = f"throttle:{action}:{user_id}:{window}"
    cache.add(key, 0, timeout=seconds + 1)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr: this is the window's first
        cache.add(key, 1, timeout=seconds + 1)
        used = 1
    if used <= count:
        return None
    return Throttled(retry_after=int((window + 1) * seconds - at) + 1)
