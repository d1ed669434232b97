from decimal import Decimal

from babel.numbers import get_currency_precision as money_precision
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Case, When
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from subscriptions import money, wording
from subscriptions.models import (
    AuditEvent,
    BillingAccount,
    ChangeRequestStatus,
    ContractChangeRequest,
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
from subscriptions.services.contract_changes import change_request_decide, change_request_quote
from subscriptions.services.errors import SubscriptionError
from subscriptions.services.offers import switching_offer_grant
from subscriptions.services.refund_quotes import refund_quote_for
from subscriptions.services.refunds import refund_review_decide


def _money(amount: int, currency: str) -> str:
    return money.format_money(amount, currency, translation.get_language() or "fr")


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
    model = AuditEvent
    fk_name = "user"
    fields = readonly_fields = ("created_at", "kind", "subscription", "actor", "data")
    ordering = ["-created_at", "-pk"]
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
        return events.filter(pk__in=ids)


class PaymentAttemptInline(ReadOnlyInline):
    model = PaymentAttempt
    fields = readonly_fields = (
        "number",
        "created_at",
        "trigger",
        "status",
        "amount",
        "payment_intent_id",
        "failure_code",
        "failure_message",
    )


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = readonly_fields = ("description", "amount", "period_start", "period_end")


class InvoiceInline(ReadOnlyInline):
    model = Invoice
    fields = readonly_fields = (
        "number",
        "kind",
        "status",
        "total",
        "currency",
        "issued_at",
        "paid_at",
    )
    show_change_link = True


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
    readonly_fields = [f.name for f in Subscription._meta.fields]
    inlines = [InvoiceInline]

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
class InvoiceAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in Invoice._meta.fields]
    inlines = [InvoiceLineInline, PaymentAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # invoices are kept (legal retention)

    @admin.display(description=_("total"), ordering="total")
    def display_total(self, obj: Invoice) -> str:
        return _money(obj.total, obj.currency)


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(admin.ModelAdmin):
    list_display = [
        "invoice",
        "number",
        "status",
        "trigger",
        "amount",
        "currency",
        "created_at",
        "failure_code",
    ]
    list_filter = ["status", "trigger", "currency"]
    search_fields = ["invoice__number", "payment_intent_id", "invoice__user__email"]
    list_select_related = ["invoice"]
    readonly_fields = [f.name for f in PaymentAttempt._meta.fields if f.name != "client_secret"]
    exclude = ["client_secret"]

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
    list_display = ["created_at", "user", "kind", "subscription", "actor"]
    list_filter = ["kind"]
    search_fields = ["user__email", "kind"]
    list_select_related = ["user", "subscription", "actor"]
    readonly_fields = ["created_at", "user", "kind", "subscription", "actor", "data"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- staff decisions: refunds (002) and contract changes (000) ---------------------------------


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


@admin.register(RefundRequest)
class RefundRequestAdmin(CustomerTimelineMixin, admin.ModelAdmin):
    form = RefundDecisionForm
    list_display = [
        "created_at",
        "user",
        "invoice",
        "rule",
        "status_display",
        "display_amount",
        "due_by",
    ]
    list_filter = ["status", "rule", "reason", OverdueFilter]
    search_fields = ["user__email", "invoice__number"]
    list_select_related = ["user", "invoice"]
    readonly_fields = [
        "customer_timeline",
        "invoice",
        "charge_summary",
        "policy_explanation",
        "reason",
        "details",
        "rule",
        "status",
        "quoted_amount",
        "amount",
        "currency",
        "ends_at",
        "created_at",
        "due_by",
        "decided_by",
        "decided_at",
        "decision_reason",
        "stripe_refund_id",
        "attempts",
        "last_error",
    ]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer_timeline",
                    "invoice",
                    "charge_summary",
                    "policy_explanation",
                    "reason",
                    "details",
                    "rule",
                    "status",
                    "amount",
                    "due_by",
                )
            },
        ),
        (
            _("Decision"),
            {
                "fields": (
                    "decision",
                    "refund_amount",
                    "written_reason",
                    "decided_by",
                    "decided_at",
                    "decision_reason",
                )
            },
        ),
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

    @admin.display(description=_("status"))
    def status_display(self, obj: RefundRequest) -> str:
        overdue = obj.status == RefundStatus.REVIEW and obj.due_by and obj.due_by < timezone.now()
        label = str(obj.get_status_display())
        return format_html("<strong>⚠ {} ({})</strong>", label, _("overdue")) if overdue else label

    @admin.display(description=_("amount"))
    def display_amount(self, obj: RefundRequest) -> str:
        return _money(obj.amount or obj.quoted_amount, obj.currency)

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

    @admin.display(description=_("policy"))
    def policy_explanation(self, obj: RefundRequest) -> str:
        quote = refund_quote_for(invoice=obj.invoice, now=timezone.now())
        return wording.explain(quote, translation.get_language() or "fr")

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        amount = form.cleaned_data.get("refund_amount") or Decimal(0)
        minor = int(amount * 10 ** money_precision(obj.currency))  # 2 decimals: exact
        try:
            refund_review_decide(
                refund=obj,
                actor=request.user,
                approve=decision == "approve",
                amount=minor,
                reason=form.cleaned_data.get("written_reason", ""),
                now=timezone.now(),
            )
        except SubscriptionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The decision is recorded and e-mailed to the customer."))

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("subscriptions.decide_refund")


class ChangeDecisionForm(DecisionForm):
    class Meta:
        model = ContractChangeRequest
        fields: list[str] = []


@admin.register(ContractChangeRequest)
class ContractChangeRequestAdmin(CustomerTimelineMixin, admin.ModelAdmin):
    form = ChangeDecisionForm
    list_display = ["created_at", "user", "subscription", "target_price", "status"]
    list_filter = ["status"]
    search_fields = ["user__email"]
    list_select_related = ["user", "subscription", "target_price", "target_price__plan"]
    readonly_fields = [
        "customer_timeline",
        "subscription",
        "current_term",
        "target_price",
        "quote_summary",
        "reason",
        "message",
        "status",
        "created_at",
        "decided_by",
        "decided_at",
        "decision_reason",
    ]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer_timeline",
                    "subscription",
                    "current_term",
                    "target_price",
                    "quote_summary",
                    "reason",
                    "message",
                    "status",
                    "created_at",
                )
            },
        ),
        (
            _("Decision"),
            {
                "fields": (
                    "decision",
                    "written_reason",
                    "decided_by",
                    "decided_at",
                    "decision_reason",
                )
            },
        ),
    )

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
        return request.user.has_perm("subscriptions.review_contract_change")

    @admin.display(description=_("current term"))
    def current_term(self, obj: ContractChangeRequest) -> str:
        sub = obj.subscription
        price = sub.price
        return format_html(
            "{} · {} · {} → {}",
            sub.plan,
            _money(price.total_amount, price.currency) if price else "—",
            sub.current_period_start.date() if sub.current_period_start else "—",
            sub.current_period_end.date() if sub.current_period_end else "—",
        )

    @admin.display(description=_("if approved now"))
    def quote_summary(self, obj: ContractChangeRequest) -> str:
        try:
            quote = change_request_quote(change=obj, now=timezone.now())
        except SubscriptionError as exc:
            return exc.message
        text = wording.explain(quote, translation.get_language() or "fr")
        if quote.mode == "immediate":
            return format_html(
                "{} ({} {}, {} {})",
                text,
                _("charged"),
                _money(quote.amount_due, quote.currency),
                _("credited"),
                _money(quote.credit, quote.currency),
            )
        return text

    def save_model(self, request, obj, form, change):
        decision = form.cleaned_data.get("decision")
        if not decision:
            return
        try:
            change_request_decide(
                change=obj,
                actor=request.user,
                approve=decision == "approve",
                reason=form.cleaned_data.get("written_reason", ""),
                now=timezone.now(),
            )
        except SubscriptionError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The decision is recorded and e-mailed to the customer."))
