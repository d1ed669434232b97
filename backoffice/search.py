"""Find a customer by what a caller quotes (e-mail, name, company, invoice number, Stripe id,
VAT number) and read their whole file on one page. Constant queries per page."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from accounts.models import User
from subscriptions.models import (
    AuditEvent,
    ContractChangeRequest,
    CreditNote,
    Invoice,
    RefundRequest,
    Subscription,
)
from support.models import InternalNote, Ticket

RESULTS_MAX = 50
TIMELINE_MAX = 200


def customer_search(*, query: str) -> QuerySet[User]:
    q = query.strip()
    if len(q) < 2:
        return User.objects.none()
    match = (
        Q(email__icontains=q)
        | Q(name__icontains=q)
        | Q(company__icontains=q)
        | Q(invoices__number__iexact=q)
        | Q(billing__stripe_customer_id=q)
        | Q(invoices__stripe_payment_intent_id=q)
        | Q(invoices__stripe_charge_id=q)
    )
    if any(f.name == "vat_number" for f in User._meta.get_fields()):
        compact = q.replace(" ", "").upper()
        match |= Q(vat_number__iexact=compact)
    ids = User.objects.filter(match, is_staff=False).values("pk").distinct()
    return User.objects.filter(pk__in=ids).order_by("email")[:RESULTS_MAX]


@dataclass(frozen=True)
class CustomerFile:
    customer: User
    subscriptions: list[Subscription]
    invoices: list[Invoice]
    credit_notes: list[CreditNote]
    refunds: list[RefundRequest]
    change_requests: list[ContractChangeRequest]
    tickets: list[Ticket]
    notes: list[InternalNote]
    events: list[AuditEvent]


def customer_file(*, user_id: int) -> CustomerFile | None:
    customer = User.objects.filter(pk=user_id, is_staff=False).first()
    if customer is None:
        return None
    return CustomerFile(
        customer=customer,
        subscriptions=list(
            Subscription.objects.filter(user=customer).select_related("plan", "price__plan")
        ),
        invoices=list(Invoice.objects.filter(user=customer).order_by("-issued_at", "-pk")),
        credit_notes=list(
            CreditNote.objects.filter(user=customer)
            .select_related("invoice")
            .order_by("-issued_at", "-pk")
        ),
        refunds=list(RefundRequest.objects.filter(user=customer).select_related("invoice")),
        change_requests=list(
            ContractChangeRequest.objects.filter(user=customer).select_related(
                "subscription", "target_price__plan"
            )
        ),
        tickets=list(Ticket.objects.filter(user=customer).order_by("-created_at")),
        notes=list(
            InternalNote.objects.filter(customer=customer).select_related("author", "ticket")
        ),
        events=list(
            AuditEvent.objects.filter(user=customer)
            .select_related("actor")
            .order_by("-created_at", "-pk")[:TIMELINE_MAX]
        ),
    )
