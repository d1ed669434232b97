"""What a policy decision means to the customer: the sentences shown on pages, in e-mails and
in the admin, in the customer's language and time zone.

``subscriptions.policy`` decides dates and amounts; this module only words them (gettext for
the sentences, Babel for dates and money).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_percent
from django.utils import translation
from django.utils.translation import gettext as _

from subscriptions.money import babel_locale, format_money
from subscriptions.policy import (
    PlanChangeQuote,
    RefundBreakdown,
    RefundQuote,
    TaxTreatment,
    time_zone,
)

__all__ = ["explain", "explain_breakdown", "tax_mention", "tax_rate", "tax_summary"]


def explain(
    quote: RefundQuote | PlanChangeQuote, language: str, *, tz: str | tzinfo = "Europe/Paris"
) -> str:
    """One or two sentences telling the customer what a quote means, in ``language``."""
    zone = time_zone(tz)
    locale = babel_locale(language)

    def day(moment: datetime) -> str:
        return str(format_date(moment.astimezone(zone).date(), "long", locale=locale))

    def money(amount: int) -> str:
        return format_money(amount, quote.currency, language)

    with translation.override(language):
        if isinstance(quote, RefundQuote):
            return _explain_refund(quote, money, day)
        return _explain_plan_change(quote, money, day)


def _explain_refund(
    quote: RefundQuote, money: Callable[[int], str], day: Callable[[datetime], str]
) -> str:
    if quote.rule == "guarantee":
        return _(
            "You are within the money-back guarantee period: %(amount)s will be refunded "
            "and your subscription will end immediately."
        ) % {"amount": money(quote.amount)}
    if quote.rule == "renewal_grace":
        return _(
            "Your last automatic renewal can still be cancelled: %(amount)s will be refunded "
            "and your subscription will end immediately."
        ) % {"amount": money(quote.amount)}
    if quote.rule == "remaining_months" and quote.ends_at is not None:
        return _(
            "Your subscription will run until %(date)s. The full months left after that, "
            "%(amount)s, will be refunded now."
        ) % {"amount": money(quote.amount), "date": day(quote.ends_at)}
    return _("No refund is due for the current billing period.")


def _explain_plan_change(
    quote: PlanChangeQuote, money: Callable[[int], str], day: Callable[[datetime], str]
) -> str:
    if quote.mode == "review":
        return _(
            "Your plan is under a commitment, so this change has to be reviewed by our team. "
            "We will answer you by e-mail."
        )
    if quote.mode == "next_period" and quote.effective_at is not None:
        return _(
            "Your new plan will start on %(date)s, at the beginning of your next billing "
            "period. Nothing is charged now."
        ) % {"date": day(quote.effective_at)}
    if quote.mode == "immediate":
        if quote.credit:
            return _(
                "Your new plan starts now. Nothing is charged today, and the unused part of "
                "your current plan, %(amount)s, is credited to your account."
            ) % {"amount": money(quote.credit)}
        if quote.starts_new_period and quote.renews_at is not None:
            return _(
                "Your new plan starts now, with a new billing period until %(date)s. "
                "%(amount)s will be charged today, after deducting the unused part of your "
                "current plan."
            ) % {"amount": money(quote.amount_due), "date": day(quote.renews_at)}
        if quote.amount_due and quote.renews_at is not None:
            return _(
                "Your new plan starts now. %(amount)s will be charged today for the rest of "
                "the current billing period, which ends on %(date)s."
            ) % {"amount": money(quote.amount_due), "date": day(quote.renews_at)}
        if quote.amount_due:
            return _("Your new plan starts now. %(amount)s will be charged today.") % {
                "amount": money(quote.amount_due)
            }
        return _("Your new plan starts now. Nothing is charged for the current billing period.")
    return _("This is already your plan: nothing changes.")


# --- tax (subscriptions.tax_rules) ----------------------------------------------------------


def tax_rate(treatment: TaxTreatment, language: str) -> str:
    """The rate as CLDR writes it: "20 %" in French, "20%" in English."""
    rate = Decimal(treatment.rate_bps) / 10000
    return str(format_percent(rate, locale=babel_locale(language), decimal_quantization=False))


def tax_mention(treatment: TaxTreatment, language: str) -> str:
    """The VAT rule in the words of the law, as invoices and pages print it; empty for
    French VAT charged."""
    with translation.override(language):
        if treatment.regime == "reverse_charge":
            return _("Reverse charge – Article 196 of Directive 2006/112/EC")  # noqa: RUF001
        if treatment.regime == "outside_scope":
            return _("VAT not applicable: outside the scope of French VAT")
        return ""


def tax_summary(treatment: TaxTreatment, language: str, *, is_business: bool = True) -> str:
    """One sentence: how the customer is taxed, and why."""
    with translation.override(language):
        if treatment.regime == "reverse_charge":
            return _(
                "No VAT is charged: as an EU business with a valid VAT number, you account "
                "for the VAT yourself (reverse charge, Article 196 of Directive 2006/112/EC)."
            )
        if treatment.regime == "outside_scope":
            return _(
                "No VAT is charged: your country is outside the scope of French VAT "
                "(outside the European Union)."
            )
        if treatment.country != "FR" and is_business:
            return _(
                "French VAT at %(rate)s is charged: give the VAT number of your business in "
                "your profile to be invoiced without VAT (reverse charge)."
            ) % {"rate": tax_rate(treatment, language)}
        return _("French VAT at %(rate)s is charged.") % {"rate": tax_rate(treatment, language)}


def explain_breakdown(breakdown: RefundBreakdown, language: str) -> str:
    """One sentence that adds up (002): paid, refunded, kept and why."""

    def money(amount: int) -> str:
        return format_money(amount, breakdown.currency, language)

    values = {
        "paid": money(breakdown.paid),
        "refunded": money(breakdown.refunded),
        "tax": money(breakdown.tax_kept),
        "other": money(breakdown.other_kept),
        "before": money(breakdown.refunded_before),
    }
    with translation.override(language):
        if breakdown.tax_kept and breakdown.other_kept:
            sentence = _(
                "You paid %(paid)s: %(refunded)s is refunded; %(tax)s is kept as VAT, which "
                "is not refundable, and %(other)s for the service already used."
            )
        elif breakdown.tax_kept:
            sentence = _(
                "You paid %(paid)s: %(refunded)s is refunded and %(tax)s is kept as VAT, "
                "which is not refundable."
            )
        elif breakdown.other_kept:
            sentence = _(
                "You paid %(paid)s: %(refunded)s is refunded and %(other)s is kept for the "
                "service already used."
            )
        else:
            sentence = _("You paid %(paid)s: %(refunded)s is refunded.")
        text = sentence % values
        if breakdown.refunded_before:
            text += " " + _("%(before)s of it was refunded before.") % values
        return text
