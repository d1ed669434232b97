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

    def per_currency(slug, title, label, series, currencies):
        """One money chart a currency: `title` is translated and names %(currency)s."""
        return [
            chart(
                f"{slug}-{currency.lower()}",
                title % {"currency": currency},
                [(currency, label)],
                series,
                money_cell(currency),
                money_csv(currency),
            )
            for currency in currencies
        ]

    out: list[Chart] = []
    revenue, annual, live = metrics.mrr(now=now, zone=zone)
    currencies = revenue.keys or ["EUR"]
    for currency in currencies:  # each currency's MRR next to its ARR
        out += per_currency(
            "mrr",
            _("Monthly recurring revenue (MRR), %(currency)s, before tax"),
            _("MRR"),
            revenue,
            [currency],
        )
        out += per_currency(
            "arr",
            _("Annual recurring revenue (ARR = 12 x MRR), %(currency)s"),
            _("ARR"),
            annual,
            [currency],
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
    out += per_currency(
        "refunded",
        _("Amount refunded, %(currency)s"),
        _("refunded"),
        refunded,
        refunded.keys,
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
    out += per_currency(
        "recovered",
        _("Amount recovered by the retries, %(currency)s"),
        _("recovered"),
        amounts,
        amounts.keys,
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
