from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from subscriptions.models import Feature, Plan, Price


class PlanForm(forms.ModelForm):
    features = forms.MultipleChoiceField(
        label=_("features"), choices=Feature.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Plan
        fields = "__all__"


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
