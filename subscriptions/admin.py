from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from subscriptions import money
from subscriptions.models import (
    AuditEvent,
    BillingAccount,
    Feature,
    Invoice,
    InvoiceLine,
    PaymentAttempt,
    Plan,
    Price,
    Subscription,
)


def _money(amount: int, currency: str) -> str:
    from django.utils import translation

    return money.format_money(amount, currency, translation.get_language() or "fr")


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
