"""Response headers that tell the browser what the portal's pages may do.

The Content-Security-Policy's static part is in settings (`CONTENT_SECURITY_POLICY`); the
payment provider's origins follow `STRIPE_JS_URL` at each response, because offline the
fake Stripe.js is served by localstripe from its own loopback port (and the test suite moves
that port for each session).
"""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

REAL_STRIPE_JS_HOST = "js.stripe.com"


def stripe_sources(js_url: str) -> dict[str, list[str]]:
    """The CSP sources Stripe.js needs, for the script's URL."""
    parts = urlsplit(js_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if parts.netloc == REAL_STRIPE_JS_HOST:
        # Stripe's published list for Stripe.js and card Elements (3-D Secure in hooks frames).
        return {
            "script-src": [origin],
            "connect-src": ["https://api.stripe.com"],
            "frame-src": [origin, "https://hooks.stripe.com"],
            "img-src": ["https://*.stripe.com"],
        }
    # localstripe: the script, its API calls and nothing else come from its origin.
    return {"script-src": [origin], "connect-src": [origin], "frame-src": [origin]}


class PortalCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, plus the payment provider's origins of the moment."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only:
            update = dict(parts.update or {})
            for directive, sources in stripe_sources(settings.STRIPE_JS_URL).items():
                current = update.get(directive) or []
                if isinstance(current, str):
                    current = [current]
                update[directive] = [*current, *sources]
            parts.update = update
        return parts
