"""Logs: one line per request and per task, JSON in production, with the request id on each.

django-structlog binds ``request_id`` for each request and carries it into the Celery tasks
the request queued. Every log line, the stdlib ones too (stripe-python's "Request to Stripe
api", the e-mails sent), gets the bound context through ``merge_contextvars``.
"""

from typing import Any

import structlog
from structlog.typing import Processor

_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
    structlog.processors.UnicodeDecoder(),
]


def structlog_configure() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def logging_config(*, fmt: str, level: str) -> dict[str, Any]:
    """``fmt`` is "json" (one JSON object a line, for machines) or "console" (for people)."""
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    renderer,
                ],
                "foreign_pre_chain": _SHARED,
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # stripe-python logs each API call at INFO: the request id rides on it.
            "stripe": {"level": "INFO" if fmt == "json" else "WARNING"},
            "django.server": {"level": "WARNING"},  # django-structlog already logs the request
            "celery.app.trace": {"level": "WARNING"},  # django-structlog logs the task
        },
    }
