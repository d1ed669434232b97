"""Settings shared by every environment; each deploy choice comes from the environment."""

import logging
from pathlib import Path
from typing import Literal

import environ
from csp.constants import NONCE, NONE, REPORT_SAMPLE, SELF
from django.utils.translation import gettext_lazy as _

from portal.logs import logging_config, structlog_configure

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

SECRET_KEY = env(
    "DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me-in-production-0123"
)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "backoffice.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_structlog",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "template_partials",
    "djstripe",
    "accounts",
    "subscriptions",
    "support",
    "legal",
    "privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.security.PortalCSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "accounts.middleware.StaffMFAMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "portal.context_processors.portal",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# SQLite is the embedded default: WAL and IMMEDIATE transactions so that concurrent
# webhooks and page requests wait for the write lock instead of failing "database is locked".
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://portal"),
    # The HTML of one row of a customer's list, kept in each web process's memory under all
    # the row shows (the portal library's row_key): a row whose data changed has a new key,
    # so no row is ever stale, and a deploy starts new processes. Kept 10 minutes at most,
    # so an erased customer's rows leave memory soon after their data (issue 18).
    "rows": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "rows",
        "TIMEOUT": 600,
        "OPTIONS": {"MAX_ENTRIES": 20_000},
    },
}

# Sessions are read from the cache (Redis in production, CACHE_URL; the process's memory in the
# embedded default, where only the web process reads them), written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Rows per page of a customer's lists (invoices, refunds, tickets, exports) and of the admin's
# lists and timelines: a page costs the same whatever the history behind it.
PAGE_SIZE = env.int("PAGE_SIZE", default=10)
ADMIN_PAGE_SIZE = env.int("ADMIN_PAGE_SIZE", default=50)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:home"

# django-allauth: e-mail is the login, verified before first use; rate limits stay on.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_REAUTHENTICATION_REQUIRED = True  # changing the e-mail asks for the password again
ACCOUNT_CHANGE_EMAIL = True  # one address: the verified new one replaces the old
ACCOUNT_EMAIL_NOTIFICATIONS = True  # the old address is told of the change
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="Portal")

LANGUAGE_CODE = "fr"
# The language cookie: never read by a script, never sent with a cross-site POST; Secure in
# production (production.py), where every page is HTTPS.
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE: Literal["Lax"] = "Lax"
LANGUAGE_COOKIE_SECURE = env.bool("DJANGO_LANGUAGE_COOKIE_SECURE", default=False)
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_allauth"]  # ours, then allauth in our voice
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))

# Every message goes through the traced backend (request id header, one log line), which
# hands it to the delivery backend: the outbox here, SMTP in production, locmem in tests.
EMAIL_BACKEND = "portal.mail.TracedEmailBackend"
EMAIL_DELIVERY_BACKEND = env("EMAIL_BACKEND", default="portal.outbox.OutboxEmailBackend")
EMAIL_OUTBOX_DIR = env("EMAIL_OUTBOX_DIR", default=str(VAR_DIR / "outbox"))
DEFAULT_FROM_EMAIL = env(
    "DEFAULT_FROM_EMAIL", default="e-confiance SAS <no-reply@portal.localhost>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: eager on the embedded default (no broker), Redis or RabbitMQ in production.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://"
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
BILLING_RUN_INTERVAL_SECONDS = env.float("BILLING_RUN_INTERVAL_SECONDS", default=300.0)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "billing-run": {
        "task": "subscriptions.tasks.billing_run",
        "schedule": BILLING_RUN_INTERVAL_SECONDS,
    },
    "stripe-events-retry": {"task": "subscriptions.tasks.stripe_events_retry", "schedule": 900.0},
    "privacy-exports-expire": {"task": "privacy.tasks.exports_expire", "schedule": 3600.0},
    "review-reminders": {"task": "subscriptions.tasks.review_reminders_send", "schedule": 3600.0},
}

# Stripe moves the money; the portal owns subscriptions and invoices (DESIGN.md).
# Offline, STRIPE_API_BASE points at localstripe on 127.0.0.1.
# localstripe takes any key; dj-stripe only stores keys of 24+ characters after the prefix.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_localstripe0000000000000")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="pk_test_localstripe0000000000000")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
STRIPE_JS_URL = env("STRIPE_JS_URL", default="https://js.stripe.com/v3/")
STRIPE_API_VERSION = "2024-04-10"
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_TEST_SECRET_KEY = STRIPE_SECRET_KEY
STRIPE_LIVE_SECRET_KEY = STRIPE_SECRET_KEY
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"

# The vendor who sells the subscriptions (invoices, e-mails).
VENDOR_NAME = env("VENDOR_NAME", default="e-confiance SAS")
VENDOR_ADDRESS = env("VENDOR_ADDRESS", default="12 rue de la Paix, 75002 Paris, France")
VENDOR_VAT_NUMBER = env("VENDOR_VAT_NUMBER", default="FR11123456782")
# Printed on every invoice and credit note (Code de commerce L441-9, CGI art. 242 nonies A,
# R123-237): legal form and share capital, SIREN/SIRET, the RCS's city. Demo values: a SIREN
# that passes its checksum and belongs to no one; set the real ones in production.
VENDOR_LEGAL_FORM = env("VENDOR_LEGAL_FORM", default="SAS")
VENDOR_SHARE_CAPITAL = env("VENDOR_SHARE_CAPITAL", default="10 000 €")
VENDOR_SIREN = env("VENDOR_SIREN", default="123456782")
VENDOR_SIRET = env("VENDOR_SIRET", default="12345678200002")
VENDOR_RCS_CITY = env("VENDOR_RCS_CITY", default="Paris")
# The address in parts, as the Factur-X XML needs it (VENDOR_ADDRESS is the printed line).
VENDOR_STREET = env("VENDOR_STREET", default="12 rue de la Paix")
VENDOR_POSTAL_CODE = env("VENDOR_POSTAL_CODE", default="75002")
VENDOR_CITY = env("VENDOR_CITY", default="Paris")
VENDOR_COUNTRY = env("VENDOR_COUNTRY", default="FR")
VENDOR_EMAIL = env("VENDOR_EMAIL", default="facturation@portal.localhost")
# A file under static/ (SVG or PNG), embedded in the PDF as a data: URL.
VENDOR_LOGO = env("VENDOR_LOGO", default="img/vendor-logo.svg")
# Tax follows the customer (subscriptions.tax_rules): the seller's country and VAT rate, and
# the OSS rates of other EU countries for consumers (none set: the French rate applies).
VAT_SELLER_COUNTRY = "FR"
VAT_DOMESTIC_RATE_BPS = env.int("VAT_DOMESTIC_RATE_BPS", default=2000)
VAT_OSS_RATES_BPS: dict[str, int] = {
    country.upper(): int(rate)
    for country, rate in env.dict("VAT_OSS_RATES_BPS", default={}).items()
}
# CGI art. 242 nonies A: French VAT on an invoice in another currency is stated in euros.
# Staff enter the published rates (admin: exchange rates); before any, these demo rates
# (euros for one unit) apply. Set EUR_EXCHANGE_RATES="USD=0.86,GBP=1.15" in production.
EUR_EXCHANGE_RATES: dict[str, str] = {
    currency.upper(): str(rate)
    for currency, rate in env.dict(
        "EUR_EXCHANGE_RATES", default={"USD": "0.86", "GBP": "1.15"}
    ).items()
}
# Absolute links in e-mails sent outside a request (tasks).
# 001: an expired trial stays readable for export for this long, then its data is deleted.
TRIAL_PURGE_GRACE_DAYS = env.int("TRIAL_PURGE_GRACE_DAYS", default=7)
STRIPE_EVENT_RETRY_DAYS = 3
SITE_URL = env("SITE_URL", default=f"http://127.0.0.1:{env('PORTAL_PORT', default='8000')}")
SUPPORT_EMAIL = env("SUPPORT_EMAIL", default="support@portal.localhost")
# Where staff are told of new change requests, refund reviews and near deadlines; empty:
# each active member of the deciding group, in their own language.
STAFF_NOTIFY_EMAIL = env("STAFF_NOTIFY_EMAIL", default="")
# A review not decided this long before its target is brought to the staff's attention.
STAFF_REVIEW_REMINDER_HOURS = env.int("STAFF_REVIEW_REMINDER_HOURS", default=24)

# What a page may load and do (django-csp, enforced, not report-only). No inline script or
# style and no eval anywhere: the portal's, the admin's and allauth's pages load their code
# from static files; a template that truly needs an inline block marks it with
# `nonce="{{ request.csp_nonce }}"`. portal.security adds Stripe.js's origins, which follow
# STRIPE_JS_URL (localstripe's loopback port offline); they are the only frames allowed.
# docs/security.md says why each directive is there.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, REPORT_SAMPLE],
        "style-src": [SELF, NONCE, REPORT_SAMPLE],
        "img-src": [SELF, "data:"],  # data: for allauth's TOTP QR code
        "font-src": [SELF],
        "connect-src": [SELF],
        "worker-src": [NONE],
        "manifest-src": [SELF],
        "media-src": [NONE],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Browser features no page of the portal uses (django-permissions-policy).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
# A page opened from another site gets no handle on the portal's windows (and vice versa).
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Per customer, (how many, in how many seconds) (accounts.throttle, issue 13): an export
# builds a zip of everything, a ticket, a reply and a refund request each wait for a person.
THROTTLES: dict[str, tuple[int, int]] = {
    "privacy_export": (3, 3600),
    "support_ticket": (5, 3600),
    # Messages on a ticket already open (issue 16): a conversation, but not a flood.
    "support_reply": (20, 3600),
    "refund_request": (5, 3600),
}

# Behind the reverse proxy production assumes, allauth's rate limits must key on the client's
# address, not the proxy's: either the number of proxies that append to X-Forwarded-For, or
# a header the proxy sets to the client's address (e.g. X-Real-IP). Never both.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env("TRUSTED_CLIENT_IP_HEADER", default=None)

# Logs: django-structlog, one line per request ("request_finished") and per task
# ("task_succeeded" / "task_failed"), each with its request id; JSON in production.
structlog_configure()
LOG_FORMAT = env("LOG_FORMAT", default="console")
LOGGING = logging_config(fmt=LOG_FORMAT, level=env("LOG_LEVEL", default="INFO"))
DJANGO_STRUCTLOG_CELERY_ENABLED = True
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False  # an IP address is personal data
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_CELERY_TASK_START_LOG_LEVEL = logging.DEBUG
