"""Contract change requests under a commitment, decided by staff (000)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from portal.locks import lock
from subscriptions import emails, policy
from subscriptions.models import (
    LIVE_STATUSES,
    AttemptStatus,
    AuditEvent,
    ChangeRequestStatus,
    ContractChangeRequest,
    Invoice,
    InvoiceKind,
    Price,
    RefundRequest,
    RefundStatus,
    Subscription,
)
from subscriptions.services.auditing import audit
from subscriptions.services.errors import SubscriptionConflict, SubscriptionError
from subscriptions.services.invoices import invoice_issue
from subscriptions.services.payments import charge_confirmed
from subscriptions.services.plan_changes import (
    charge_or_void,
    outcome_unknown,
    plan_change_options,
    plan_change_quote_for,
    refuse_if_charging,
    settle_later,
    switch_now,
)
from subscriptions.services.refund_quotes import REVIEW_BUSINESS_DAYS, holiday_country

# --- contract change requests (000) ------------------------------------------------------------


def change_request_create(
    *,
    user: User,
    subscription: Subscription,
    target: Price,
    reason: str,
    message: str,
    now: datetime | None = None,
) -> ContractChangeRequest:
    if subscription.user_id != user.pk or subscription.price is None:
        raise SubscriptionError(_("This subscription cannot change plan now."))
    if subscription.cancel_at is not None:
        raise SubscriptionError(
            _("Your cancellation is recorded: keep your subscription first, then change plan.")
        )
    if subscription.price.commitment_months == 0:
        raise SubscriptionError(_("Your plan has no commitment: you can change it yourself."))
    if target.pk == subscription.price_id or target.currency != subscription.currency:
        raise SubscriptionError(_("Please choose another plan."))
    if not reason.strip():
        raise SubscriptionError(_("Please tell us why you want to change."))
    now = now or timezone.now()
    with transaction.atomic():
        Subscription.objects.select_for_update(of=("self",)).get(pk=subscription.pk)
        if ContractChangeRequest.objects.filter(
            subscription=subscription, status=ChangeRequestStatus.PENDING
        ).exists():
            raise SubscriptionError(_("You already have a change request waiting for review."))
        change = ContractChangeRequest.objects.create(
            user=user,
            subscription=subscription,
            target_price=target,
            reason=reason.strip()[:200],
            message=message.strip()[:5000],
        )
        try:
            shown = contract_change_quote(subscription=subscription, target=target, now=now)
        except SubscriptionError:
            shown = None  # no paid period yet: nothing to price
        audit(
            user=user,
            kind="change_request_filed",
            subscription=subscription,
            target=target.plan.code,
            charged_if_approved_now=shown.amount_due if shown else 0,
            credit_if_approved_now=shown.credit if shown else 0,
        )
        emails.email_user(user, "change_request_received", {"change": change})
        emails.email_staff(
            emails.STAFF_BILLING,
            "staff_change_request",
            {
                "change": change,
                "change_pk": str(change.pk),
                "due_by": change_request_due_by(change),
            },
        )
    return change


def change_request_due_by(change: ContractChangeRequest) -> datetime:
    """002: a reviewed request is answered within 5 business days of the customer's country,
    counted like a refund review's `due_by`."""
    user = change.user
    return policy.business_day_deadline(
        change.created_at, REVIEW_BUSINESS_DAYS, holiday_country(user.country), user.time_zone
    )


def change_request_withdraw(*, user: User, change: ContractChangeRequest) -> None:
    with transaction.atomic():
        c = ContractChangeRequest.objects.select_for_update().get(pk=change.pk, user=user)
        if c.status != ChangeRequestStatus.PENDING:
            raise SubscriptionConflict(_("This request has already been decided."))
        c.status = ChangeRequestStatus.WITHDRAWN
        c.save(update_fields=["status"])
        audit(user=user, kind="change_request_withdrawn", subscription=c.subscription)


def change_request_quote(*, change: ContractChangeRequest, now: datetime) -> policy.PlanChangeQuote:
    """What approving would do: a higher plan now with the unused annual payment credited,
    a lower one at the end of the term."""
    return contract_change_quote(
        subscription=change.subscription, target=change.target_price, now=now
    )


def contract_change_quote(
    *, subscription: Subscription, target: Price, now: datetime
) -> policy.PlanChangeQuote:
    """The one quote of a contract change (000): what the request form shows for each target
    at today's date, what staff see before deciding, and what approving does, re-computed
    at the decision's moment: charged now, credit kept for the next invoices, the new
    renewal date; the target's own commitment starts with its new term."""
    return plan_change_quote_for(
        subscription=subscription, target=target, now=now, ignore_commitment=True
    )


def contract_change_options(
    *, subscription: Subscription, now: datetime
) -> list[tuple[Price, policy.PlanChangeQuote]]:
    """Each plan the customer may ask for, with what approval would mean today."""
    return [
        (target, contract_change_quote(subscription=subscription, target=target, now=now))
        for target in plan_change_options(subscription=subscription)
    ]


def change_request_decide(
    *,
    change: ContractChangeRequest,
    actor: User,
    approve: bool,
    reason: str,
    now: datetime,
    shown: policy.ShownCharge | None = None,
) -> ContractChangeRequest:
    """Staff's decision. Approving re-computes the quote at `now`; its charge is taken only if
    it is the one the decision page showed staff (`shown`), and the e-mail states it."""
    if not actor.has_perm("subscriptions.review_contract_change"):
        raise SubscriptionError(_("You are not allowed to review contract changes."))
    if not approve and not reason.strip():
        raise SubscriptionError(_("Please write the reason for the rejection."))
    with transaction.atomic():
        c = lock(
            ContractChangeRequest,
            change.pk,
            "subscription",
            "target_price",
            "target_price__plan",
            "user",
        )
        if c.status != ChangeRequestStatus.PENDING:
            raise SubscriptionConflict(_("This request has already been decided."))
        sub = c.subscription
        if approve and (
            sub.status not in LIVE_STATUSES
            or sub.current_period_end is None
            or now >= sub.current_period_end
        ):
            raise SubscriptionError(
                _("This subscription has ended or is being renewed: it cannot change now.")
            )
        if approve and sub.cancel_at is not None:
            raise SubscriptionError(
                _(
                    "The customer has cancelled this contract: the change can be approved "
                    "only once they keep their subscription."
                )
            )
        if approve:
            refuse_if_charging(sub, now)
        quote = change_request_quote(change=c, now=now) if approve else None
        if quote is not None:
            charge_confirmed(
                shown=shown,
                amount=quote.amount_due if quote.mode == "immediate" else 0,
                currency=quote.currency,
            )
        c.status = ChangeRequestStatus.APPROVED if approve else ChangeRequestStatus.REJECTED
        c.decided_by, c.decided_at, c.decision_reason = actor, now, reason.strip()
        c.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        audit(
            user=c.user,
            actor=actor,
            kind=f"change_request_{c.status}",
            subscription=c.subscription,
            target=c.target_price.plan.code,
        )
    effective_now = False
    invoice = None
    if approve and quote is not None:
        if quote.mode == "immediate":
            invoice = _approved_now(c, quote, actor=actor, now=now)
            effective_now = True
        else:
            Subscription.objects.filter(pk=c.subscription_id).update(scheduled_price=c.target_price)
    emails.email_user(
        c.user,
        "change_request_decided",
        {"change": c, "effective_now": effective_now, "quote": quote, "invoice": invoice},
    )
    return c


def _approved_now(
    change: ContractChangeRequest, quote: policy.PlanChangeQuote, *, actor: User, now: datetime
) -> Invoice | None:
    """An approved move to a higher plan starts now; the quote's amount is charged, or its
    credit kept for the next invoices. A declined card reverts the decision to pending."""
    sub = change.subscription
    target = change.target_price
    invoice = None
    if quote.amount_due > 0:
        with transaction.atomic():
            locked = lock(Subscription, sub.pk, "user", "price", "price__plan")
            end = (
                policy.add_months(now, policy.MONTHS_PER_INTERVAL[target.interval])
                if quote.starts_new_period
                else locked.current_period_end or now
            )
            invoice = invoice_issue(
                subscription=locked,
                kind=InvoiceKind.PRORATION,
                period_start=now,
                period_end=end,
                now=now,
                price=target,
                lines=[
                    (
                        f"Contract change to {target.plan.name_en} / "
                        f"Changement de contrat vers {target.plan.name_fr}",
                        quote.amount_due,
                    )
                ],
            )
            settle_later(invoice, now)
        attempt = charge_or_void(invoice, trigger="contract_change", now=now)
        if attempt.status != AttemptStatus.SUCCEEDED:
            ContractChangeRequest.objects.filter(pk=change.pk).update(
                status=ChangeRequestStatus.PENDING, decided_by=None, decided_at=None
            )
            if outcome_unknown(attempt):
                raise SubscriptionError(
                    _(
                        "The payment service did not answer: the request stays pending. Should "
                        "the customer's card have been charged all the same, it is refunded in "
                        "full automatically."
                    )
                )
            raise SubscriptionError(
                _("The customer's card was declined (%(reason)s): the request stays pending.")
                % {"reason": attempt.reason}
            )
    switch_now(sub, target, quote, now=now, invoice=invoice, actor=actor)
    return invoice


# --- reviews near their target (002) -----------------------------------------------------------


def review_reminders_send(*, now: datetime) -> int:
    """Tell staff once of each review still undecided within STAFF_REVIEW_REMINDER_HOURS of
    its target (or past it); the audit event is the marker, so a second run sends nothing."""
    horizon = now + timedelta(hours=settings.STAFF_REVIEW_REMINDER_HOURS)
    markers = AuditEvent.objects.filter(kind="review_reminder_sent")
    reminded_refunds = {
        int(pk)
        for pk in markers.filter(data__has_key="refund").values_list("data__refund", flat=True)
    }
    reminded_changes = {
        int(pk)
        for pk in markers.filter(data__has_key="change").values_list("data__change", flat=True)
    }
    sent = 0
    reviews = RefundRequest.objects.filter(
        status=RefundStatus.REVIEW, due_by__lte=horizon
    ).select_related("user", "invoice")
    for refund in reviews:
        if refund.pk in reminded_refunds:
            continue
        sent += _remind(
            refund.user,
            marker={"refund": refund.pk},
            what={"refund_number": refund.invoice.number},
            due_by=refund.due_by or now,
            admin_path=f"admin/subscriptions/refundrequest/{refund.pk}/change/",
        )
    changes = ContractChangeRequest.objects.filter(
        status=ChangeRequestStatus.PENDING
    ).select_related("user", "subscription", "target_price__plan")
    for change in changes:
        due = change_request_due_by(change)
        if due > horizon or change.pk in reminded_changes:
            continue
        sent += _remind(
            change.user,
            marker={"change": change.pk},
            what={"change_reference": change.subscription.reference},
            due_by=due,
            admin_path=f"admin/subscriptions/contractchangerequest/{change.pk}/change/",
        )
    return sent


def _remind(
    user: User,
    *,
    marker: dict[str, int],
    what: dict[str, str],
    due_by: datetime,
    admin_path: str,
) -> int:
    with transaction.atomic():
        if "refund" in marker:
            audit(user=user, kind="review_reminder_sent", refund=marker["refund"])
        else:
            audit(user=user, kind="review_reminder_sent", change=marker["change"])
        emails.email_staff(
            emails.STAFF_BILLING,
            "staff_review_due",
            {**what, "email": user.email, "due_by": due_by, "admin_path": admin_path},
        )
    return 1
