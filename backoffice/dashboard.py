"""The metrics page's charts, built from backoffice.metrics in the staff's language."""

from collections.abc import Callable
from datetime import datetime, tzinfo

from babel.dates import format_date
from django.utils.translation import gettext as _

from backoffice import metrics
from backoffice.charts import Chart
from subscriptions.models import ChangeRequestStatus, Plan
from subscriptions.money import babel_locale, format_money, to_major_units
from subscriptions.staff_wording import rule_label


def _count(value: int) -> str:
    return str(value)


def charts(*, now: datetime, zone: tzinfo, language: str) -> tuple[list[Chart], list[str]]:
    """Every chart of the page (8 queries in all), and the cancellation reasons given."""
    months = metrics.months_back(now, zone)
    labels = [str(format_date(m.key, "MMM y", locale=babel_locale(language))) for m in months]
    iso = [m.key.strftime("%Y-%m") for m in months]

    def chart(slug, title, columns, series, cell=_count, csv_cell=str):
        rows = [[series.get(key, m) for key, _label in columns] for m in months]
        return Chart(slug, title, columns, labels, rows, cell, iso, csv_cell)

    def money_cell(currency: str) -> Callable[[int], str]:
        return lambda v: format_money(v, currency, language)

    def money_csv(currency: str) -> Callable[[int], str]:
        return lambda v: str(to_major_units(v, currency))

    out: list[Chart] = []
    revenue, annual, live = metrics.mrr(now=now, zone=zone)
    for currency in revenue.keys or ["EUR"]:
        out.append(
            chart(
                f"mrr-{currency.lower()}",
                _("Monthly recurring revenue (MRR), %(currency)s, before tax")
                % {"currency": currency},
                [(currency, _("MRR"))],
                revenue,
                money_cell(currency),
                money_csv(currency),
            )
        )
        out.append(
            chart(
                f"arr-{currency.lower()}",
                _("Annual recurring revenue (ARR = 12 x MRR), %(currency)s")
                % {"currency": currency},
                [(currency, _("ARR"))],
                annual,
                money_cell(currency),
                money_csv(currency),
            )
        )
    names = {p.code: p.name for p in Plan.objects.all()}
    out.append(
        chart(
            "plans",
            _("Paid subscriptions by plan"),
            [(code, names.get(code, code)) for code in live.keys],
            live,
        )
    )
    trial = metrics.trials(now=now, zone=zone)
    out.append(
        chart(
            "trials",
            _("Trials started and converted to paid"),
            [("started", _("trials started")), ("converted", _("converted to paid"))],
            trial,
        )
    )
    cancelled, reasons = metrics.churn(now=now, zone=zone)
    out.append(
        chart(
            "churn",
            _("Cancellations (churn)"),
            [("cancellations", _("cancellations")), ("with_reason", _("with a reason given"))],
            cancelled,
        )
    )
    by_rule, refunded = metrics.refunds(now=now, zone=zone)
    out.append(
        chart(
            "refunds",
            _("Refunds by rule"),
            [(rule, rule_label(rule)) for rule in by_rule.keys],
            by_rule,
        )
    )
    for currency in refunded.keys:
        out.append(  # noqa: PERF401
            chart(
                f"refunded-{currency.lower()}",
                _("Amount refunded, %(currency)s") % {"currency": currency},
                [(currency, _("refunded"))],
                refunded,
                money_cell(currency),
                money_csv(currency),
            )
        )
    counts, amounts = metrics.recovered(now=now, zone=zone)
    out.append(
        chart(
            "recovered",
            _("Failed payments recovered by the automatic retries"),
            [("recovered", _("payments recovered"))],
            counts,
        )
    )
    for currency in amounts.keys:
        out.append(  # noqa: PERF401
            chart(
                f"recovered-{currency.lower()}",
                _("Amount recovered by the retries, %(currency)s") % {"currency": currency},
                [(currency, _("recovered"))],
                amounts,
                money_cell(currency),
                money_csv(currency),
            )
        )
    outcomes = metrics.change_requests(now=now, zone=zone)
    out.append(
        chart(
            "changes",
            _("Contract change requests by outcome"),
            [(status.value, str(status.label)) for status in ChangeRequestStatus],
            outcomes,
        )
    )
    return out, reasons
