"""The customer's timeline as staff read it: one sentence per audit event, in the staff
member's language, with formatted money and links to the objects it names.

Services write `AuditEvent(kind, data)`; this module only words them. An unknown kind is
still shown as a sentence ("Other event"), never as its code or its JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_date, format_datetime
from babel.numbers import format_percent
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from subscriptions.models import AuditEvent, Plan
from subscriptions.money import babel_locale, format_money
from subscriptions.policy import PlanChangeQuote

# The refund rules of refund_quote (policy) and the staff review, as words.
RULE_LABELS = {
    "guarantee": gettext_lazy("money-back guarantee"),
    "renewal_grace": gettext_lazy("forgotten renewal"),
    "remaining_months": gettext_lazy("remaining full months"),
    "none": gettext_lazy("no automatic refund"),
    "review": gettext_lazy("staff review"),
    "unapplied_change": gettext_lazy("plan change not applied"),
}

TRIGGER_LABELS = {
    "checkout": gettext_lazy("subscription"),
    "renewal": gettext_lazy("renewal"),
    "retry": gettext_lazy("automatic retry"),
    "customer": gettext_lazy("paid by the customer"),
    "undo_cancel": gettext_lazy("cancellation undone"),
    "plan_change": gettext_lazy("plan change"),
    "contract_change": gettext_lazy("contract change"),
    "trial_end": gettext_lazy("end of trial"),
}


def rule_label(rule: str) -> str:
    label = RULE_LABELS.get(rule)
    return str(label) if label is not None else _("other rule")


def trigger_label(trigger: str) -> str:
    label = TRIGGER_LABELS.get(trigger)
    return str(label) if label is not None else _("other")


def moment(value: datetime, language: str) -> str:
    """12 janv. 2027 14:03, in the active time zone."""
    local = timezone.localtime(value)
    return str(format_datetime(local, "d MMM y HH:mm", locale=babel_locale(language)))


def plan_names(codes: Iterable[str]) -> dict[str, Plan]:
    return {p.code: p for p in Plan.objects.filter(code__in=set(codes))}


def invoice_link(number: str) -> SafeString:
    url = reverse("admin:subscriptions_invoice_changelist") + "?" + urlencode({"q": number})
    return format_html('<a href="{}">{}</a>', url, number)


class _Words:
    """Helpers bound to one event: money in its currency, plan names, links."""

    def __init__(self, data: Mapping[str, Any], plans: Mapping[str, Plan], language: str):
        self.data = data
        self.plans = plans
        self.language = language

    def money(self, key: str = "amount") -> str:
        amount = self.data.get(key)
        currency = str(self.data.get("currency") or "EUR")
        if not isinstance(amount, int):
            return "—"
        return format_money(amount, currency, self.language)

    def plan(self, key: str) -> str:
        code = str(self.data.get(key) or "")
        plan = self.plans.get(code)
        return plan.name if plan is not None else (code or "—")

    def invoice(self) -> SafeString | str:
        number = str(self.data.get("invoice") or "")
        return invoice_link(number) if number else "—"

    def day(self, key: str) -> str:
        raw = self.data.get(key)
        if not raw:
            return "—"
        try:
            value = datetime.fromisoformat(str(raw))
        except ValueError:
            return "—"
        return moment(value, self.language)


def _invoice_sentence(text: str, w: _Words, **more: Any) -> SafeString:
    return format_html(text, invoice=w.invoice(), amount=w.money(), **more)


SENTENCES: dict[str, Callable[[_Words], SafeString | str]] = {
    "trial_started": lambda w: _("Trial started on %(plan)s.") % {"plan": w.plan("plan")},
    "trial_expired": lambda w: _("Trial ended without a subscription."),
    "plan_chosen": lambda w: _("Plan %(plan)s chosen.") % {"plan": w.plan("plan")},
    "subscription_created": lambda w: _("Subscription created."),
    "card_saved": lambda w: _("Card saved."),
    "trial_warning_sent": lambda w: _("Trial end warning e-mailed."),
    "trial_forfeited_card_reused": lambda w: _(
        "No trial: this card already served one; billing started."
    ),
    "renewal_reminder_sent": lambda w: _("Renewal reminder e-mailed."),
    "downgrade_withdrawn": lambda w: _("Scheduled plan change withdrawn."),
    "change_payment_unapplied": lambda w: _invoice_sentence(
        _("A plan change payment could not be applied; it is refunded (invoice {invoice})."), w
    ),
    "change_payment_void": lambda w: _invoice_sentence(
        _("A plan change invoice was voided (invoice {invoice})."), w
    ),
    "invoice_issued": lambda w: _invoice_sentence(
        _("Invoice {invoice} issued, {total}."), w, total=w.money("total")
    ),
    "payment_succeeded": lambda w: _invoice_sentence(
        _("Payment of {amount} received (invoice {invoice})."), w
    ),
    "payment_failed": lambda w: _invoice_sentence(
        _("Payment of {amount} declined (invoice {invoice})."), w
    ),
    "subscription_suspended": lambda w: _invoice_sentence(
        _("Every retry failed: subscription suspended (invoice {invoice})."), w
    ),
    "payment_service_unreachable": lambda w: _invoice_sentence(
        _("The payment service did not answer (invoice {invoice})."), w
    ),
    "plan_changed": lambda w: _invoice_sentence(
        (
            _("Change from {old} to {new}, {charged} charged (invoice {invoice}).")
            if w.data.get("charged")
            else _("Change from {old} to {new}, {credit} credited.")
            if w.data.get("credit")
            else _("Change from {old} to {new}.")
        )
        if w.data.get("old")
        else _("Change to {new}, {charged} charged (invoice {invoice}).")
        if w.data.get("charged")
        else _("Change to {new}."),
        w,
        old=w.plan("old"),
        new=w.plan("new"),
        charged=w.money("charged"),
        credit=w.money("credit"),
    ),
    "downgrade_scheduled": lambda w: (
        _("Change to %(new)s scheduled for %(date)s.")
        % {"new": w.plan("new"), "date": w.day("effective_at")}
    ),
    "plan_change_failed": lambda w: _("A plan change failed: the payment was declined."),
    "change_payment_found": lambda w: _invoice_sentence(
        _("A plan change payment was found later (invoice {invoice})."), w
    ),
    "change_request_filed": lambda w: (
        _("Contract change to %(plan)s requested.") % {"plan": w.plan("target")}
    ),
    "change_request_approved": lambda w: (
        _("Contract change to %(plan)s approved.") % {"plan": w.plan("target")}
    ),
    "change_request_rejected": lambda w: (
        _("Contract change to %(plan)s rejected.") % {"plan": w.plan("target")}
    ),
    "change_request_withdrawn": lambda w: _("Contract change request withdrawn."),
    "cancellation_requested": lambda w: (
        _("Cancellation requested; the service ends on %(date)s.") % {"date": w.day("ends_at")}
    ),
    "cancellation_undone": lambda w: _("Cancellation undone."),
    "subscription_ends": lambda w: (
        _("The subscription will end on %(date)s.") % {"date": w.day("ends_at")}
    ),
    "subscription_ended": lambda w: _("The subscription ended."),
    "refund_requested": lambda w: _invoice_sentence(
        _("Refund of {amount} requested ({rule}, invoice {invoice})."),
        w,
        rule=rule_label(str(w.data.get("rule") or "")),
    ),
    "refund_approved": lambda w: _invoice_sentence(
        _("Refund of {amount} approved (invoice {invoice})."), w
    ),
    "refund_rejected": lambda w: _invoice_sentence(_("Refund rejected (invoice {invoice})."), w),
    "credit_note_issued": lambda w: format_html(
        _("Credit note {note} of {amount} issued (invoice {invoice})."),
        note=str(w.data.get("credit_note") or "—"),
        amount=w.money("total"),
        invoice=w.invoice(),
    ),
    "refund_issued": lambda w: _invoice_sentence(_("{amount} refunded (invoice {invoice})."), w),
    "refund_failed": lambda w: _invoice_sentence(
        _("A refund failed and will be retried (invoice {invoice})."), w
    ),
    "refund_recorded": lambda w: _invoice_sentence(
        _("Refund of {amount} recorded from Stripe (invoice {invoice})."), w
    ),
    "dispute_opened": lambda w: _("The customer's bank opened a dispute."),
    "switching_offer_granted": lambda w: (
        _("Switching offer: %(months)s free month(s) granted.")
        % {"months": w.data.get("months", "—")}
    ),
    "profile_updated": lambda w: _("Profile updated."),
    "ticket_opened": lambda w: (
        _("Support ticket #%(ticket)s opened.") % {"ticket": w.data.get("ticket", "—")}
    ),
    "ticket_message": lambda w: (
        _("New message on ticket #%(ticket)s.") % {"ticket": w.data.get("ticket", "—")}
    ),
    "ticket_answered": lambda w: (
        _("Ticket #%(ticket)s answered.") % {"ticket": w.data.get("ticket", "—")}
    ),
    "ticket_reopened": lambda w: (
        _("Ticket #%(ticket)s reopened.") % {"ticket": w.data.get("ticket", "—")}
    ),
    "ticket_closed": lambda w: (
        _("Ticket #%(ticket)s closed.") % {"ticket": w.data.get("ticket", "—")}
    ),
    "terms_published": lambda w: (
        _("Terms version %(version)s published.") % {"version": w.data.get("version", "—")}
    ),
    "data_export_requested": lambda w: _("Data export requested."),
    "data_export_ready": lambda w: _("Data export ready."),
    "accounting_export_requested": lambda w: _("Accounting export requested."),
    "account_deleted": lambda w: _("Account deleted."),
    "review_reminder_sent": lambda w: _("Staff reminded that a decision is due soon."),
}

PLAN_KEYS = ("plan", "old", "new", "target")


def event_sentence(
    event: AuditEvent, language: str, plans: Mapping[str, Plan] | None = None
) -> SafeString:
    """'12 janv. 2027 14:03 — Change from Pro to Premium, 36,00 € charged (invoice …)'."""
    data = event.data if isinstance(event.data, dict) else {}
    if plans is None:
        plans = plan_names(str(data[k]) for k in PLAN_KEYS if data.get(k))
    words = _Words(data, plans, language)
    sentence = SENTENCES.get(event.kind)
    text = sentence(words) if sentence is not None else _("Other event.")
    return format_html("{} — {}", moment(event.created_at, language), text)


# --- what a staff decision will do, in the staff voice -----------------------------------------


def day_words(value: datetime | None, language: str) -> str:
    if value is None:
        return "—"
    return str(format_date(timezone.localtime(value).date(), "long", locale=babel_locale(language)))


def change_decision_preview(
    quote: PlanChangeQuote, *, current_plan: str, target_plan: str, language: str
) -> dict[str, str]:
    """What approving or rejecting a contract change does, from the quote the customer is
    given (`change_request_quote`): amounts tax included, dates in the staff's time zone."""

    def money(amount: int) -> str:
        return format_money(amount, quote.currency, language)

    names = {"current": current_plan, "target": target_plan}
    renews = day_words(quote.renews_at, language)
    if quote.mode == "immediate":
        if quote.amount_due and quote.starts_new_period:
            approve = _(
                "If you approve, the customer moves from %(current)s to %(target)s now, with a "
                "new billing period until %(date)s: %(amount)s is charged to their card today "
                "(the unused part of the current plan deducted)."
            ) % {
                **names,
                "amount": money(quote.amount_due),
                "date": renews,
            }
        elif quote.amount_due:
            approve = _(
                "If you approve, the customer moves from %(current)s to %(target)s now: "
                "%(amount)s is charged to their card today for the rest of the period, which "
                "ends on %(date)s."
            ) % {
                **names,
                "amount": money(quote.amount_due),
                "date": renews,
            }
        elif quote.credit:
            approve = _(
                "If you approve, the customer moves from %(current)s to %(target)s now: nothing "
                "is charged, and the unused part of the current plan, %(amount)s, is credited "
                "to their account for the next invoices."
            ) % {**names, "amount": money(quote.credit)}
        else:
            approve = _(
                "If you approve, the customer moves from %(current)s to %(target)s now; "
                "nothing is charged."
            ) % {**names}
    elif quote.mode == "next_period":
        approve = _(
            "If you approve, the customer moves from %(current)s to %(target)s on %(date)s, at "
            "the start of the next period; nothing is charged now."
        ) % {**names, "date": day_words(quote.effective_at, language)}
    else:
        approve = _("Approving changes nothing: this is already the customer's plan.")
    reject = (
        _(
            "If you reject, nothing changes: the customer stays on %(current)s and is e-mailed "
            "your written reason."
        )
        % names
    )
    return {"approve": approve, "reject": reject}


def refund_decision_preview(*, left: int, currency: str, language: str) -> dict[str, str]:
    def money(amount: int) -> str:
        return format_money(amount, currency, language)

    approve = _(
        "If you approve, the amount you enter (at most %(left)s, taxes excluded) is refunded "
        "to the customer's card at once, and they are e-mailed. The subscription carries on."
    ) % {"left": money(left)}
    reject = _(
        "If you reject, nothing is refunded and the customer is e-mailed your written reason."
    )
    return {"approve": approve, "reject": reject}


def percent(basis_points: int, language: str) -> str:
    return str(
        format_percent(Decimal(basis_points).scaleb(-4), "#,##0.##%", locale=babel_locale(language))
    )


PARTY_KEYS = (
    "name",
    "company",
    "address",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "vat_number",
    "email",
)


def party_lines(party: object) -> SafeString | str:
    """An invoice's seller or buyer as the lines of an address, never as JSON."""
    if not isinstance(party, dict) or not party:
        return "—"
    values = [str(party[k]) for k in PARTY_KEYS if party.get(k)]
    values += [str(v) for k, v in party.items() if k not in PARTY_KEYS and v and isinstance(v, str)]
    return format_html_join(mark_safe("<br>"), "{}", ((v,) for v in values))  # a constant
