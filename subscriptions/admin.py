from datetime import datetime
from decimal import Decimal

from babel.numbers import get_currency_precision as money_precision
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Case, When
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext_lazy as _

from subscriptions import money, quotes, staff_wording
from subscriptions.admin_documents import DocumentPdfLinkMixin
from subscriptions.models import (
    AuditEvent,
    BillingAccount,
    ChangeRequestStatus,
    ContractChangeRequest,
    ExchangeRate,
    Feature,
    Invoice,
    InvoiceLine,
    PaymentAttempt,
    Plan,
    Price,
    RefundRequest,
    RefundStatus,
    Subscription,
)
from subscriptions.policy import ShownCharge
from subscriptions.services.contract_changes import (
    change_request_decide,
    change_request_due_by,
    change_request_quote,
)
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.offers import switching_offer_grant
from subscriptions.services.refund_quotes import refund_quote_for
from subscriptions.services.refunds import refund_review_decide
from subscriptions.staff_selectors import change_request_applied


def _language() -> str:
    return translation.get_language() or "fr"


def _money(amount: int, currency: str) -> str:
    return money.format_money(amount, currency, _language())


class CustomerTimelineMixin:
    @admin.display(description=_("customer"))
    def customer_timeline(self, obj: RefundRequest | ContractChangeRequest) -> str:
        """The customer's admin page, where their timeline (audit events) is shown."""
        url = reverse("admin:accounts_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{} — {}</a>', url, obj.user, _("timeline"))


class PlanForm(forms.ModelForm):
    features = forms.MultipleChoiceField(
        label=_("features"), choices=Feature.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Plan
        fields = [
            "code",
            "name_en",
            "name_fr",
            "description_en",
            "description_fr",
            "rank",
            "features",
            "support_reply_hours",
            "is_active",
        ]


class PriceInline(admin.TabularInline):
    model = Price
    extra = 0


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanForm
    list_display = ["code", "name_en", "name_fr", "rank", "support_reply_hours", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name_en", "name_fr"]
    inlines = [PriceInline]


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = [
        "plan",
        "interval",
        "commitment_months",
        "currency",
        "display_amount",
        "tax_behavior",
        "guarantee_days",
        "is_active",
    ]
    list_filter = ["plan", "interval", "currency", "is_active"]
    list_select_related = ["plan"]

    @admin.display(description=_("amount"))
    def display_amount(self, obj: Price) -> str:
        return obj.display_amount


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AuditEventInline(ReadOnlyInline):
    """The customer's timeline, one sentence per event, newest first."""

    model = AuditEvent
    fk_name = "user"
    fields = readonly_fields = ("sentence", "actor")
    ordering = ["-created_at", "-pk"]
    verbose_name = _("event")
    verbose_name_plural = _("timeline")
    # The latest events only, with a link to the whole timeline (paginated): a customer's page
    # costs the same after years of history.
    template = "admin/edit_inline/timeline.html"

    def get_queryset(self, request):
        events = super().get_queryset(request)
        match = request.resolver_match
        user_id = match.kwargs.get("object_id") if match else None
        if user_id is None:
            return events.none()
        latest = events.filter(user_id=user_id).order_by("-created_at", "-pk")
        ids = list(latest.values_list("pk", flat=True)[: settings.ADMIN_PAGE_SIZE])
        self._plans = {p.code: p for p in Plan.objects.all()}  # one query for every sentence
        return events.filter(pk__in=ids).select_related("actor")

    @admin.display(description=_("what happened"))
    def sentence(self, obj: AuditEvent) -> str:
        return staff_wording.event_sentence(obj, _language(), getattr(self, "_plans", None))


class AttemptWordsMixin:
    @admin.display(description=_("amount"))
    def amount_display(self, obj: PaymentAttempt) -> str:
        return _money(obj.amount, obj.currency)

    @admin.display(description=_("trigger"))
    def trigger_display(self, obj: PaymentAttempt) -> str:
        return staff_wording.trigger_label(obj.trigger)

    @admin.display(description=_("why it failed"))
    def failure_display(self, obj: PaymentAttempt) -> str:
        return obj.reason if obj.status != "succeeded" else ""


class PaymentAttemptInline(AttemptWordsMixin, ReadOnlyInline):
    model = PaymentAttempt
    fields = readonly_fields = (
        "number",
        "created_at",
        "trigger_display",
        "status",
        "amount_display",
        "payment_intent_id",
        "failure_display",
    )


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = readonly_fields = ("description", "amount_display", "period_start", "period_end")

    @admin.display(description=_("amount"))
    def amount_display(self, obj: InvoiceLine) -> str:
        return _money(obj.amount, obj.invoice.currency)


class InvoiceInline(ReadOnlyInline):
    model = Invoice
    fields = readonly_fields = ("number", "kind", "status", "total_display", "issued_at", "paid_at")
    show_change_link = True

    @admin.display(description=_("total"))
    def total_display(self, obj: Invoice) -> str:
        return _money(obj.total, obj.currency)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "user",
        "plan",
        "status",
        "currency",
        "current_period_end",
        "next_billing_at",
        "cancel_at",
    ]
    list_filter = ["status", "plan", "currency", "price__interval"]
    search_fields = ["user__email", "user__name", "user__company"]
    list_select_related = ["user", "plan"]
    date_hierarchy = "created_at"
    readonly_fields = [
        *(
            f.name
            for f in Subscription._meta.fields
            if f.editable and f.name not in ("id", "credit", "anchor_at", "period_index")
        ),
        "credit_display",
    ]
    inlines = [InvoiceInline]

    @admin.display(description=_("credit"))
    def credit_display(self, obj: Subscription) -> str:
        return _money(obj.credit, obj.currency)

    def has_add_permission(self, request):
        return False  # subscriptions change through the services only

    actions = ["grant_one_free_month", "grant_three_free_months"]

    def _grant(self, request, queryset, months):
        for sub in queryset:
            try:
                switching_offer_grant(
                    subscription=sub, months=months, actor=request.user, now=timezone.now()
                )
            except SubscriptionError as exc:
                messages.error(request, f"{sub.reference}: {exc.message}")
            else:
                messages.success(
                    request,
                    _("%(reference)s: %(months)s free month(s) granted.")
                    % {"reference": sub.reference, "months": months},
                )

    @admin.action(description=_("Switching offer: grant 1 free month"), permissions=["change"])
    def grant_one_free_month(self, request, queryset):
        self._grant(request, queryset, 1)

    @admin.action(description=_("Switching offer: grant 3 free months"), permissions=["change"])
    def grant_three_free_months(self, request, queryset):
        self._grant(request, queryset, 3)

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("subscriptions.change_subscription")

    @admin.display(description=_("reference"))
    def reference(self, obj: Subscription) -> str:
        return obj.reference


@admin.register(Invoice)
class InvoiceAdmin(DocumentPdfLinkMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "user",
        "kind",
        "status",
        "display_total",
        "issued_at",
        "paid_at",
        "next_retry_at",
    ]
    list_filter = ["status", "kind", "currency", "issued_at"]
    search_fields = ["number", "user__email", "stripe_payment_intent_id", "stripe_charge_id"]
    list_select_related = ["user"]
    date_hierarchy = "issued_at"
    readonly_fields = [
        "pdf_link",
        "number",
        "user",
        "subscription",
        "price",
        "kind",
        "status",
        "subtotal_display",
        "tax_display",
        "display_total",
        "credit_applied_display",
        "refunded_display",
        "tax_rate_display",
        "tax_regime",
        "tax_eur_display",
        "period_start",
        "period_end",
        "issued_at",
        "paid_at",
        "seller_display",
        "buyer_display",
        "language",
        "next_retry_at",
        "first_failed_at",
        "stripe_charge_id",
        "stripe_payment_intent_id",
    ]
    inlines = [InvoiceLineInline, PaymentAttemptInline]

    @admin.display(description=_("subtotal"))
    def subtotal_display(self, obj: Invoice) -> str:
        return _money(obj.subtotal, obj.currency)

    @admin.display(description=_("tax"))
    def tax_display(self, obj: Invoice) -> str:
        return _money(obj.tax, obj.currency)

    @admin.display(description=_("settled by credit"))
    def credit_applied_display(self, obj: Invoice) -> str:
        return _money(obj.credit_applied, obj.currency)

    @admin.display(description=_("refunded"))
    def refunded_display(self, obj: Invoice) -> str:
        return _money(obj.amount_refunded, obj.currency)

    @admin.display(description=_("VAT in euros"))
    def tax_eur_display(self, obj: Invoice) -> str:
        if obj.tax_eur is None:
            return "—"
        return f"{_money(obj.tax_eur, 'EUR')} (1 {obj.currency} = {obj.eur_rate} EUR)"

    @admin.display(description=_("tax rate"))
    def tax_rate_display(self, obj: Invoice) -> str:
        return staff_wording.percent(obj.tax_rate_bps, _language())

    @admin.display(description=_("seller"))
    def seller_display(self, obj: Invoice) -> str:
        return staff_wording.party_lines(obj.seller)

    @admin.display(description=_("buyer"))
    def buyer_display(self, obj: Invoice) -> str:
        return staff_wording.party_lines(obj.buyer)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # invoices are kept (legal retention)

    @admin.display(description=_("total"), ordering="total")
    def display_total(self, obj: Invoice) -> str:
        return _money(obj.total, obj.currency)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """The published rates to euros, entered by billing staff: a document keeps the one of
    its issue date, so a rate corrected later changes no issued document."""

    list_display = ["currency", "valid_from", "eur_per_unit"]
    list_filter = ["currency"]
    date_hierarchy = "valid_from"

    def has_delete_permission(self, request, obj=None):
        return False  # documents were issued at it: kept, as they are


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(AttemptWordsMixin, admin.ModelAdmin):
    list_display = [
        "invoice",
        "number",
        "status",
        "trigger_display",
        "amount_display",
        "created_at",
        "failure_display",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["invoice__number", "payment_intent_id", "invoice__user__email"]
    list_select_related = ["invoice"]
    fields = readonly_fields = (
        "invoice",
        "number",
        "status",
        "trigger_display",
        "amount_display",
        "created_at",
        "failure_display",
        "payment_intent_id",
    )

    def has_add_permission(self, request):
        return False


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    list_display = ["user", "stripe_customer_id", "card_brand", "card_last4"]
    search_fields = ["user__email", "stripe_customer_id"]
    readonly_fields = [f.name for f in BillingAccount._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["sentence", "user", "actor"]
    search_fields = ["user__email"]
    list_select_related = ["user", "actor"]
    fields = readonly_fields = ("sentence", "user", "actor")

    def get_queryset(self, request):
        self._plans = {p.code: p for p in Plan.objects.all()}
        return super().get_queryset(request)

    @admin.display(description=_("what happened"), ordering="-created_at")
    def sentence(self, obj: AuditEvent) -> str:
        return staff_wording.event_sentence(obj, _language(), getattr(self, "_plans", None))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- staff decisions: refunds (002) and contract changes (000) ---------------------------------


class DecisionAdminMixin:
    """Django's admin saves inside transaction.atomic (changeform_view): a decision made in
    save_model would keep the request's rows locked, and a transaction open, while Stripe is
    charged or refunded. save_model only takes the decision down; it is made once the admin's
    transaction is over, by the service, with its own locking and transactions.

    The admin says "changed successfully" after every save: a decision is told by its own
    message instead, a refusal (a colleague decided first, the card was declined) as an error."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        posted = request.method == "POST" and object_id
        if posted and self._decided_meanwhile(request, object_id):
            return self._already_decided(request)
        try:
            response = super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except PermissionDenied:
            # A colleague's decision landed between the check above and the admin's own.
            if posted and self._decided_meanwhile(request, object_id):
                return self._already_decided(request)
            raise
        decide = getattr(request, "decision_pending", None)
        if decide is not None:
            request.decision_pending = None
            self._decision_run(request, decide)
        return response

    def _already_decided(self, request):
        """A colleague decided a moment ago: the page now shows their decision."""
        messages.error(request, _("This request has already been decided."))
        return HttpResponseRedirect(request.get_full_path())

    def _decided_meanwhile(self, request, object_id) -> bool:
        """Staff who may decide posted on a request that is no longer open for a decision."""
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        return (
            obj is not None
            and self.has_change_permission(request)  # type: ignore[attr-defined]
            and not self.has_change_permission(request, obj)  # type: ignore[attr-defined]
        )

    def _decision_run(self, request, decide):
        try:
            decide()
        except SubscriptionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The decision is recorded and e-mailed to the customer."))

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        if level == messages.SUCCESS and getattr(request, "decision_pending", None) is not None:
            return
        super().message_user(request, message, level, *args, **kwargs)  # type: ignore[misc]


class DecisionForm(forms.ModelForm):
    """A decision written by staff; the service checks the permission and the amounts."""

    decision = forms.ChoiceField(
        label=_("decision"),
        choices=[("", "—"), ("approve", _("approve")), ("reject", _("reject"))],
        required=False,
    )
    written_reason = forms.CharField(
        label=_("reason (required to reject)"), widget=forms.Textarea, required=False
    )


class RefundDecisionForm(DecisionForm):
    refund_amount = forms.DecimalField(
        label=_("amount to refund"),
        required=False,
        min_value=0,
        decimal_places=2,
        help_text=_("In the invoice's currency; at most what is left refundable, taxes excluded."),
    )

    class Meta:
        model = RefundRequest
        fields: list[str] = []


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("overdue"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=RefundStatus.REVIEW, due_by__lt=timezone.now())
        return queryset


def _due_words(due: datetime | None, *, waiting: bool) -> str:
    """'within 2 days (14 Jan 2027 00:00)' or '⚠ overdue by 3 hours (…)', for what waits."""
    if due is None:
        return "—"
    when = staff_wording.moment(due, _language())
    if not waiting:
        return when
    now = timezone.now()
    if due < now:
        return format_html(
            "<strong>⚠ {}</strong> ({})",
            _("overdue by %(time)s") % {"time": timesince(due, now, depth=1)},
            when,
        )
    return _("%(time)s left (%(when)s)") % {"time": timeuntil(due, now, depth=1), "when": when}


DECIDED_FIELDS = ("decided_by", "decided_at", "decision_reason")


@admin.register(RefundRequest)
class RefundRequestAdmin(CustomerTimelineMixin, DecisionAdminMixin, admin.ModelAdmin):
    form = RefundDecisionForm
    list_display = [
        "created_at",
        "user",
        "invoice",
        "rule_display",
        "status_display",
        "display_amount",
        "due_display",
    ]
    list_filter = ["status", "reason", OverdueFilter]
    search_fields = ["user__email", "invoice__number"]
    list_select_related = ["user", "invoice"]
    facts = (
        "customer_timeline",
        "invoice",
        "charge_summary",
        "policy_explanation",
        "reason",
        "details",
        "rule_display",
        "status",
        "display_amount",
        "created_at",
        "due_display",
    )
    readonly_fields = [
        *facts,
        "preview",
        *DECIDED_FIELDS,
        "refunded_display",
        "refunded_at",
        "stripe_refund_id",
        "attempts",
        "last_error",
    ]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.status == RefundStatus.REVIEW:
            decision = ("preview", "decision", "refund_amount", "written_reason")
            return ((None, {"fields": self.facts}), (_("Decision"), {"fields": decision}))
        decided = (*DECIDED_FIELDS, "refunded_display", "refunded_at")
        return (
            (None, {"fields": self.facts}),
            (_("Decision"), {"fields": decided}),
            (_("Stripe"), {"fields": ("stripe_refund_id", "attempts", "last_error")}),
        )

    def get_queryset(self, request):
        # Waiting reviews first, the most overdue on top.
        return (
            super()
            .get_queryset(request)
            .annotate(waiting=Case(When(status=RefundStatus.REVIEW, then=0), default=1))
            .order_by("waiting", "due_by", "-created_at")
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # A decided request is read-only: who decided, when, why and what was refunded.
        if obj is not None and obj.status != RefundStatus.REVIEW:
            return False
        return request.user.has_perm("subscriptions.decide_refund")

    @admin.display(description=_("rule"))
    def rule_display(self, obj: RefundRequest) -> str:
        return staff_wording.rule_label(obj.rule)

    @admin.display(description=_("status"))
    def status_display(self, obj: RefundRequest) -> str:
        overdue = obj.status == RefundStatus.REVIEW and obj.due_by and obj.due_by < timezone.now()
        label = str(obj.get_status_display())
        return format_html("<strong>⚠ {} ({})</strong>", label, _("overdue")) if overdue else label

    @admin.display(description=_("decision due by"), ordering="due_by")
    def due_display(self, obj: RefundRequest) -> str:
        return _due_words(obj.due_by, waiting=obj.status == RefundStatus.REVIEW)

    @admin.display(description=_("amount"))
    def display_amount(self, obj: RefundRequest) -> str:
        return _money(obj.amount or obj.quoted_amount, obj.currency)

    @admin.display(description=_("refunded"))
    def refunded_display(self, obj: RefundRequest) -> str:
        if obj.status == RefundStatus.REJECTED:
            return _money(0, obj.currency)
        return _money(obj.amount, obj.currency)

    @admin.display(description=_("payment"))
    def charge_summary(self, obj: RefundRequest) -> str:
        inv = obj.invoice
        return format_html(
            "{} {} · {} {} · {} {}",
            _("paid"),
            _money(inv.total, inv.currency),
            _("tax"),
            _money(inv.tax, inv.currency),
            _("already refunded"),
            _money(inv.amount_refunded, inv.currency),
        )

    @admin.display(description=_("automatic rules today"))
    def policy_explanation(self, obj: RefundRequest) -> str:
        quote = refund_quote_for(invoice=obj.invoice, now=timezone.now())
        if quote.rule == "none" or not quote.amount:
            return str(_("No automatic refund applies today: the decision is yours."))
        return str(_("%(rule)s: %(amount)s would be refunded automatically.")) % {
            "rule": staff_wording.rule_label(quote.rule).capitalize(),
            "amount": _money(quote.amount, quote.currency),
        }

    @admin.display(description=_("what your decision will do"))
    def preview(self, obj: RefundRequest) -> str:
        words = staff_wording.refund_decision_preview(
            left=obj.invoice.refundable_left, currency=obj.currency, language=_language()
        )
        return format_html("<p>{}</p><p>{}</p>", words["approve"], words["reject"])

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        amount = form.cleaned_data.get("refund_amount") or Decimal(0)
        minor = int(amount * 10 ** money_precision(obj.currency))  # 2 decimals: exact
        reason = form.cleaned_data.get("written_reason", "")

        def decide():
            refund_review_decide(
                refund=obj,
                actor=request.user,
                approve=decision == "approve",
                amount=minor,
                reason=reason,
                now=timezone.now(),
            )

        request.decision_pending = decide  # made after the admin's transaction


class ChangeDecisionForm(DecisionForm):
    # The charge the decision page shows, signed: approving takes it only if the quote
    # re-computed at the click is still that one (quotes before money).
    charge = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = ContractChangeRequest
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.fields["charge"].initial = change_decision_token(self.instance, timezone.now())


def change_decision_token(change: ContractChangeRequest, now) -> str:
    """What approving at `now` would charge, as the decision page shows it."""
    try:
        quote = change_request_quote(change=change, now=now)
    except SubscriptionError:
        return ""
    amount = quote.amount_due if quote.mode == "immediate" else 0
    return quotes.charge_token(
        what="contract_change",
        pk=change.pk,
        charge=ShownCharge(amount, quote.currency),
        quoted_at=now,
    )


@admin.register(ContractChangeRequest)
class ContractChangeRequestAdmin(CustomerTimelineMixin, DecisionAdminMixin, admin.ModelAdmin):
    form = ChangeDecisionForm
    list_display = ["created_at", "user", "subscription", "target_price", "status", "due_display"]
    list_filter = ["status"]
    search_fields = ["user__email"]
    list_select_related = ["user", "subscription", "subscription__plan", "target_price__plan"]
    facts = (
        "customer_timeline",
        "subscription",
        "current_term",
        "target_price",
        "reason",
        "message",
        "status",
        "created_at",
        "due_display",
    )
    readonly_fields = [*facts, "quote_summary", *DECIDED_FIELDS, "applied"]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.status == ChangeRequestStatus.PENDING:
            decision: tuple[str, ...] = ("quote_summary", "decision", "charge", "written_reason")
        else:
            decision = (*DECIDED_FIELDS, "applied")
        return ((None, {"fields": self.facts}), (_("Decision"), {"fields": decision}))

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(waiting=Case(When(status=ChangeRequestStatus.PENDING, then=0), default=1))
            .order_by("waiting", "created_at")
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != ChangeRequestStatus.PENDING:
            return False
        return request.user.has_perm("subscriptions.review_contract_change")

    @admin.display(description=_("decision due by"))
    def due_display(self, obj: ContractChangeRequest) -> str:
        return _due_words(
            change_request_due_by(obj), waiting=obj.status == ChangeRequestStatus.PENDING
        )

    @admin.display(description=_("current term"))
    def current_term(self, obj: ContractChangeRequest) -> str:
        sub = obj.subscription
        price = sub.price
        return format_html(
            "{} · {} · {} → {}",
            price if price else sub.plan,
            _money(sub.price_total or 0, price.currency) if price else "—",
            staff_wording.day_words(sub.current_period_start, _language()),
            staff_wording.day_words(sub.current_period_end, _language()),
        )

    @admin.display(description=_("what your decision will do"))
    def quote_summary(self, obj: ContractChangeRequest) -> str:
        try:
            quote = change_request_quote(change=obj, now=timezone.now())
        except SubscriptionError as exc:
            return exc.message
        words = staff_wording.change_decision_preview(
            quote,
            current_plan=obj.subscription.plan.name,
            target_plan=obj.target_price.plan.name,
            language=_language(),
        )
        return format_html("<p>{}</p><p>{}</p>", words["approve"], words["reject"])

    @admin.display(description=_("applied"))
    def applied(self, obj: ContractChangeRequest) -> str:
        if obj.status != ChangeRequestStatus.APPROVED:
            return str(_("Nothing was changed."))
        event = change_request_applied(obj)
        if event is not None:
            return staff_wording.event_sentence(event, _language())
        return str(_("%(plan)s from the next period, nothing charged.")) % {
            "plan": obj.target_price.plan.name
        }

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        token = form.cleaned_data.get("charge", "")
        reason = form.cleaned_data.get("written_reason", "")

        def decide():
            now = timezone.now()
            shown = None
            if decision == "approve":
                shown, _quoted_at = quotes.charge_read(
                    token, what="contract_change", pk=obj.pk, now=now
                )
            change_request_decide(
                change=obj,
                actor=request.user,
                approve=decision == "approve",
                reason=reason,
                now=now,
                shown=shown,
            )

        request.decision_pending = decide  # made after the admin's transaction
