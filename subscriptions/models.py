from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from subscriptions import money


class Feature(models.TextChoices):
    CORE = "core", _("Customer reviews collection")
    ADVANCED = "advanced", _("Advanced reports and widgets")
    SMS_REMINDERS = "sms_reminders", _("SMS reminders")
    CUSTOM_BRANDING = "custom_branding", _("Custom branding")


class Interval(models.TextChoices):
    MONTH = "month", _("monthly")
    YEAR = "year", _("yearly")


class Currency(models.TextChoices):
    EUR = "EUR", "EUR"
    USD = "USD", "USD"
    GBP = "GBP", "GBP"


class TaxBehavior(models.TextChoices):
    EXCLUSIVE = "exclusive", _("tax added to the price")
    INCLUSIVE = "inclusive", _("tax included in the price")


def validate_features(value: object) -> None:
    if not isinstance(value, list) or any(v not in Feature.values for v in value):
        raise ValidationError(
            _("Choose features among: %(choices)s"), params={"choices": ", ".join(Feature.values)}
        )


class Plan(models.Model):
    """A product tier (Starter < Standard < Pro < Premium); its rank orders up- and downgrades."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=80)
    name_fr = models.CharField(_("name (French)"), max_length=80)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_fr = models.TextField(_("description (French)"), blank=True)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True)
    features = models.JSONField(_("features"), default=list, validators=[validate_features])
    support_reply_hours = models.PositiveSmallIntegerField(_("support reply target (hours)"))
    is_active = models.BooleanField(_("offered"), default=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_fr if translation.get_language() == "fr" else self.name_en

    @property
    def description(self) -> str:
        return self.description_fr if translation.get_language() == "fr" else self.description_en

    def has_feature(self, feature: str) -> bool:
        return feature in self.features

    def feature_labels(self) -> list[str]:
        return [str(Feature(code).label) for code in self.features if code in Feature.values]


class Price(models.Model):
    """What a plan costs in one currency and interval, with its commitment and refund terms."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="prices")
    interval = models.CharField(_("billing interval"), max_length=5, choices=Interval.choices)
    commitment_months = models.PositiveSmallIntegerField(_("commitment (months)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    amount = models.PositiveIntegerField(_("amount (minor units)"))
    tax_behavior = models.CharField(
        _("tax behaviour"),
        max_length=9,
        choices=TaxBehavior.choices,
        default=TaxBehavior.EXCLUSIVE,
    )
    tax_rate_bps = models.PositiveIntegerField(
        _("tax rate (basis points)"), default=2000, help_text=_("2000 = 20 %")
    )
    guarantee_days = models.PositiveSmallIntegerField(
        _("money-back guarantee (days)"), default=14, help_text=_("0 disables the guarantee.")
    )
    renewal_grace_business_days = models.PositiveSmallIntegerField(
        _("forgotten-renewal refund window (business days)"), default=5
    )
    is_active = models.BooleanField(_("offered"), default=True)

    class Meta:
        ordering = ["plan__rank", "interval", "currency"]
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "interval", "currency"], name="price_unique_plan_interval_currency"
            ),
            models.CheckConstraint(
                condition=models.Q(commitment_months__lte=12), name="price_commitment_at_most_12"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} {self.interval} {self.currency} {self.amount}"

    def clean(self) -> None:
        if self.commitment_months and self.interval == Interval.MONTH:
            raise ValidationError(_("A commitment needs a yearly price."))

    @property
    def display_amount(self) -> str:
        return money.format_money(self.amount, self.currency, translation.get_language() or "fr")

    @property
    def tax_amount(self) -> int:
        """Tax in minor units: added on top (exclusive) or contained in the amount (inclusive)."""
        if self.tax_behavior == TaxBehavior.EXCLUSIVE:
            return (self.amount * self.tax_rate_bps + 5000) // 10000
        return self.amount - (self.amount * 10000 + (10000 + self.tax_rate_bps) // 2) // (
            10000 + self.tax_rate_bps
        )

    @property
    def total_amount(self) -> int:
        if self.tax_behavior == TaxBehavior.EXCLUSIVE:
            return self.amount + self.tax_amount
        return self.amount
