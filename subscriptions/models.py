from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from subscriptions import money, policy
from subscriptions.storage import PrivateAccountingStorage, accounting_storage
from subscriptions.taxes import customer_tax


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
    # Stored before tax (exclusive): the tax follows the customer (subscriptions.taxes), so
    # the rate is not a field of the price. An inclusive price keeps its amount as the total.
    amount = models.PositiveIntegerField(_("amount (minor units)"))
    tax_behavior = models.CharField(
        _("tax behaviour"),
        max_length=9,
        choices=TaxBehavior.choices,
        default=TaxBehavior.EXCLUSIVE,
        help_text=_(
            "Tax added to the price: the amount is before tax. Tax included: the amount is "
            "what every customer pays, whatever their tax."
        ),
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
        # What staff read in lists and menus: "Standard, yearly, €390.00".
        return f"{self.plan.name}, {self.get_interval_display()}, {self.display_amount}"

    def clean(self) -> None:
        if self.commitment_months and self.interval == Interval.MONTH:
            raise ValidationError(_("A commitment needs a yearly price."))

    @property
    def display_amount(self) -> str:
        return money.format_money(self.amount, self.currency, translation.get_language() or "fr")

    @property
    def tax_included(self) -> bool:
        return self.tax_behavior == TaxBehavior.INCLUSIVE

    def amounts_for(self, treatment: policy.TaxTreatment) -> policy.TaxedAmount:
        """Subtotal, tax and total of one period of this price for a customer's tax."""
        return policy.price_tax(
            self.amount, rate_bps=treatment.rate_bps, tax_included=self.tax_included
        )


class BillingAccount(models.Model):
    """A customer's payment side: the Stripe customer and the saved card (no card data)."""

    user = models.OneToOneField(
        "accounts.User",
        on_delete=models.CASCADE,
        related_name="billing",
        verbose_name=_("customer"),
    )
    stripe_customer_id = models.CharField(_("Stripe customer"), max_length=64, blank=True)
    payment_method_id = models.CharField(_("Stripe payment method"), max_length=64, blank=True)
    card_brand = models.CharField(_("card brand"), max_length=32, blank=True)
    card_last4 = models.CharField(_("card last digits"), max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(_("card expiry month"), null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(_("card expiry year"), null=True, blank=True)
    card_fingerprint = models.CharField(_("card fingerprint"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("billing account")
        verbose_name_plural = _("billing accounts")

    def __str__(self) -> str:
        return str(self.user)

    @property
    def has_card(self) -> bool:
        return bool(self.payment_method_id)


class TrialClaim(models.Model):
    """One trial per customer (001): by verified e-mail, and later by card fingerprint.

    Kept after an account is deleted, holding only a hash of the e-mail address.
    """

    email_hash = models.CharField(max_length=64, unique=True)
    card_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("trial claim")
        verbose_name_plural = _("trial claims")

    def __str__(self) -> str:
        return self.email_hash[:12]


class SubscriptionStatus(models.TextChoices):
    TRIALING = "trialing", _("trial")
    ACTIVE = "active", _("active")
    PAST_DUE = "past_due", _("payment overdue")
    SUSPENDED = "suspended", _("suspended")
    INCOMPLETE = "incomplete", _("awaiting first payment")
    EXPIRED = "expired", _("trial expired")
    CANCELED = "canceled", _("ended")


# A renewal whose reminder (002/004) has not gone out for its coming due date.
RENEWAL_REMINDER_NOT_SENT = models.Q(renewal_reminder_sent_for__isnull=True) | ~models.Q(
    renewal_reminder_sent_for=models.F("next_billing_at")
)


class Subscription(models.Model):
    """The portal's own subscription: its plan, price, periods and schedule (DESIGN.md)."""

    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("customer"),
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, verbose_name=_("plan"))
    price = models.ForeignKey(
        Price, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("price")
    )
    status = models.CharField(
        _("status"), max_length=12, choices=SubscriptionStatus.choices, db_index=True
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    trial_started_at = models.DateTimeField(_("trial started"), null=True, blank=True)
    trial_ends_at = models.DateTimeField(_("trial ends"), null=True, blank=True)
    trial_warning_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    purge_notice_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    purge_at = models.DateTimeField(_("data deletion"), null=True, blank=True)
    first_paid_at = models.DateTimeField(_("first payment"), null=True, blank=True)
    # Periods are counted from the anchor so that 31 January renews on 28 February, then
    # 31 March: calendar months from the start, clamped (DESIGN.md 6), never drifting.
    anchor_at = models.DateTimeField(_("billing anchor"), null=True, blank=True)
    period_index = models.PositiveIntegerField(_("period number"), default=0)
    current_period_start = models.DateTimeField(_("period start"), null=True, blank=True)
    current_period_end = models.DateTimeField(_("period end"), null=True, blank=True)
    # The one indexed due date the billing task scans: trial end, renewal, or nothing.
    next_billing_at = models.DateTimeField(_("next charge"), null=True, blank=True)
    renewal_reminder_sent_for = models.DateTimeField(null=True, blank=True, editable=False)
    suspended_at = models.DateTimeField(_("suspended"), null=True, blank=True)
    # A downgrade (or a lower plan approved under a commitment) waits for the period end.
    scheduled_price = models.ForeignKey(
        Price,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("plan from the next period"),
    )
    # Cancellation (L215-1-1): when it was asked, why (optional), and when the service ends.
    cancel_requested_at = models.DateTimeField(_("cancellation requested"), null=True, blank=True)
    cancel_reason = models.TextField(_("cancellation reason"), blank=True)
    cancel_at = models.DateTimeField(_("service ends"), null=True, blank=True, db_index=True)
    # 003: free months granted to a customer leaving a provider that holds them to a notice.
    free_months = models.PositiveSmallIntegerField(_("free months left"), default=0)
    # The unused part of a previous plan, taken off the next invoices (minor units).
    credit = models.PositiveIntegerField(_("credit (minor units)"), default=0)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        indexes = [
            models.Index(fields=["next_billing_at"], name="subscription_due"),
            # One partial index per step of the billing run (services.billing): each holds
            # only the rows that step may act on, by due date, so a run reads what is due.
            models.Index(
                fields=["next_billing_at"],
                condition=models.Q(status="trialing", trial_warning_sent_at__isnull=True),
                name="subscription_trial_warning_due",
            ),
            models.Index(
                fields=["next_billing_at"],
                condition=models.Q(status="trialing"),
                name="subscription_trial_end_due",
            ),
            models.Index(
                fields=["next_billing_at"],
                condition=models.Q(status="active"),
                name="subscription_renewal_due",
            ),
            # By price first: the reminder steps read only the prices of their interval.
            models.Index(
                fields=["price", "next_billing_at"],
                condition=models.Q(status="active") & RENEWAL_REMINDER_NOT_SENT,
                name="subscription_reminder_due",
            ),
            models.Index(
                fields=["cancel_at"],
                condition=models.Q(
                    status__in=["trialing", "active", "past_due", "suspended", "incomplete"],
                    cancel_at__isnull=False,
                ),
                name="subscription_end_due",
            ),
            models.Index(
                fields=["purge_at"],
                condition=models.Q(status="expired", purge_at__isnull=False),
                name="subscription_purge_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(
                    status__in=["trialing", "active", "past_due", "suspended", "incomplete"]
                ),
                name="subscription_one_live_per_customer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.plan.name} ({self.get_status_display()})"

    @property
    def reference(self) -> str:
        """The contract reference shown to the customer and staff."""
        return f"C-{self.pk:06d}" if self.pk else ""

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def price_total(self) -> int | None:
        """One period of the chosen price, taxed as the customer is now (what a charge
        would take), or None without a price."""
        if self.price is None:
            return None
        return self.price.amounts_for(customer_tax(self.user)).total

    @property
    def interval(self) -> str:
        return self.price.interval if self.price else ""


LIVE_STATUSES = (
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.SUSPENDED,
    SubscriptionStatus.INCOMPLETE,
)


class ExchangeRate(models.Model):
    """What one unit of a currency is worth in euros from a date on, as staff enter it (the
    rate the Banque de France or the ECB published). An invoice in that currency with French
    VAT states its VAT in euros at the latest rate on or before its issue date, else at the
    EUR_EXCHANGE_RATES setting's, and keeps it (CGI art. 242 nonies A)."""

    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    valid_from = models.DateField(_("valid from"))
    eur_per_unit = models.DecimalField(_("euros for one unit"), max_digits=12, decimal_places=6)

    class Meta:
        ordering = ["currency", "-valid_from"]
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "valid_from"], name="exchange_rate_one_per_day"
            ),
            models.CheckConstraint(
                condition=models.Q(eur_per_unit__gt=0), name="exchange_rate_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(currency="EUR"), name="exchange_rate_not_euro"
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.eur_per_unit} EUR ({self.valid_from})"


class InvoiceSequence(models.Model):
    """Gapless invoice numbers per year (French invoicing rules): one locked row per year."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("invoice sequence")
        verbose_name_plural = _("invoice sequences")

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class InvoiceKind(models.TextChoices):
    FIRST = "first", _("subscription")
    RENEWAL = "renewal", _("renewal")
    PRORATION = "proration", _("plan change")


class TaxRegime(models.TextChoices):
    """Which VAT rule an invoice was issued under: it decides the rate and the legal mention."""

    FRENCH_VAT = "fr_vat", _("French VAT")
    REVERSE_CHARGE = "reverse_charge", _("reverse charge (EU business)")
    OUTSIDE_SCOPE = "outside_scope", _("outside the scope of French VAT")


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("awaiting payment")
    PAID = "paid", _("paid")
    UNCOLLECTIBLE = "uncollectible", _("unpaid")
    VOID = "void", _("void")


class IssuedDocumentEdited(Exception):
    """An issued invoice or credit note was about to change: corrections are credit notes."""


# What an issued invoice may never change (L441-9, CGI 242 nonies A: the document as sent).
# Its payment state (status, paid_at, amount_refunded, retries, Stripe ids) does change.
INVOICE_FROZEN_FIELDS = (
    "number",
    "kind",
    "price",
    "currency",
    "subtotal",
    "tax",
    "total",
    "tax_rate_bps",
    "tax_regime",
    "period_start",
    "period_end",
    "issued_at",
    "credit_applied",
    "reverses_refunds",
    "eur_rate",
    "tax_eur",
    "seller",
    "buyer",
    "language",
)
ERASED_BUYER_KEY = "deleted"


def _frozen_change_allowed(field: str, value: object) -> bool:
    """The one exception: an account's erasure replaces the buyer by its erasure marker."""
    return field == "buyer" and isinstance(value, dict) and value.get(ERASED_BUYER_KEY) is True


_Issued = TypeVar("_Issued", bound=models.Model)


class IssuedQuerySet(models.QuerySet[_Issued]):
    """`.update()` may not touch what an issued document froze."""

    frozen: tuple[str, ...] = ()

    def update(self, **kwargs: Any) -> int:
        for field, value in kwargs.items():
            if field in self.frozen and not _frozen_change_allowed(field, value):
                raise IssuedDocumentEdited(f"{self.model.__name__}.{field} is frozen once issued")
        return super().update(**kwargs)


class InvoiceQuerySet(IssuedQuerySet["Invoice"]):
    frozen = INVOICE_FROZEN_FIELDS


class Invoice(models.Model):
    """An invoice the portal issued; numbered when issued, never renumbered, edited or deleted
    (corrections are credit notes)."""

    number = models.CharField(_("number"), max_length=16, unique=True)
    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        related_name="invoices",
        verbose_name=_("customer"),
    )
    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.SET_NULL,
        null=True,
        related_name="invoices",
        verbose_name=_("subscription"),
    )
    # The price billed: its terms (interval, commitment, guarantee) decide any refund.
    price = models.ForeignKey(
        Price, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("price")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=InvoiceKind.choices)
    status = models.CharField(
        _("status"), max_length=13, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN
    )
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    subtotal = models.IntegerField(_("subtotal (minor units)"))
    tax = models.IntegerField(_("tax (minor units)"))
    total = models.IntegerField(_("total (minor units)"))
    # The account's credit (from a credit note) used as a prepayment: the invoice keeps its
    # full base and VAT (the credit note already corrected the VAT), and only the rest,
    # `amount_due`, is charged to the card.
    credit_applied = models.IntegerField(_("settled by credit (minor units)"), default=0)
    # Months refunded on cancelling, charged again when the subscription is kept: taxed at
    # the rate its refunds' credit notes gave back, and refundable whole, as those refunds were.
    reverses_refunds = models.BooleanField(_("charges refunded months again"), default=False)
    tax_rate_bps = models.PositiveIntegerField(_("tax rate (basis points)"))
    tax_regime = models.CharField(
        _("VAT rule"), max_length=16, choices=TaxRegime.choices, default=TaxRegime.FRENCH_VAT
    )
    # CGI art. 242 nonies A: in another currency, the French VAT is stated in euros too, at
    # the rate of the issue date (ExchangeRate), kept as it was: empty without French VAT or
    # in euros.
    eur_rate = models.DecimalField(
        _("euros for one unit of the currency"),
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
    )
    tax_eur = models.IntegerField(_("VAT in euro cents"), null=True, blank=True)
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    issued_at = models.DateTimeField(_("issued"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    # Seller and buyer as they were when the invoice was issued (legal retention).
    seller = models.JSONField(_("seller"), default=dict)
    buyer = models.JSONField(_("buyer"), default=dict)
    language = models.CharField(_("language"), max_length=8, default="fr")
    # Dunning: the next automatic retry (004: days 1, 3 and 7 after the first failure).
    next_retry_at = models.DateTimeField(_("next retry"), null=True, blank=True, db_index=True)
    retries_scheduled = models.JSONField(default=list, blank=True)
    first_failed_at = models.DateTimeField(_("first failure"), null=True, blank=True)
    stripe_charge_id = models.CharField(
        _("Stripe charge"), max_length=64, blank=True, db_index=True
    )
    amount_refunded = models.IntegerField(_("refunded (minor units)"), default=0)
    stripe_payment_intent_id = models.CharField(
        _("Stripe payment intent"), max_length=64, blank=True, db_index=True
    )

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        indexes = [
            # A customer's list, newest first, one page read without sorting their history.
            models.Index(fields=["user", "-issued_at", "-id"], name="invoice_user_newest"),
        ]
        constraints = [
            # A period is billed once, however often the renewal task runs.
            models.UniqueConstraint(
                fields=["subscription", "period_start"],
                condition=models.Q(kind__in=["first", "renewal"], status__in=["open", "paid"]),
                name="invoice_one_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(credit_applied__gte=0, credit_applied__lte=models.F("total")),
                name="invoice_credit_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            _refuse_frozen_changes(self, INVOICE_FROZEN_FIELDS, kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise IssuedDocumentEdited("an issued invoice is never deleted")

    @property
    def is_credit_note(self) -> bool:
        return False

    @property
    def amount_due(self) -> int:
        """What the card is charged: the total less the credit used as a prepayment."""
        return self.total - self.credit_applied

    @property
    def refundable_base(self) -> int:
        """The most a refund may give back on this payment: never the taxes (002), and never
        more than the card paid (the part settled by credit was not charged). Months charged
        again after a kept cancellation are refundable whole: they give back refunds that
        kept the tax already."""
        return max(0, min(self.total - self.kept_tax, self.amount_due))

    @property
    def kept_tax(self) -> int:
        """The VAT a refund of this payment keeps (002): none on months charged again, whose
        refunds kept it already."""
        return 0 if self.reverses_refunds else self.tax

    @property
    def refundable_left(self) -> int:
        """What may still be refunded on this payment: never the taxes (002), never twice."""
        return max(0, self.refundable_base - self.amount_refunded)


def _refuse_frozen_changes(
    document: models.Model, frozen: tuple[str, ...], update_fields: object
) -> None:
    """Compare what is saved with what was issued; only payment state may differ."""
    if update_fields is not None:
        touched = set(update_fields)  # type: ignore[call-overload]
        fields = [name for name in frozen if name in touched]
        if not fields:
            return
    else:
        fields = list(frozen)
    attnames = {name: document._meta.get_field(name).attname for name in fields}  # type: ignore[union-attr]
    stored = type(document)._base_manager.filter(pk=document.pk).values(*attnames.values())
    row = next(iter(stored), None)
    if row is None:
        return
    for name in fields:
        attname = attnames[name]
        value = getattr(document, attname)
        if row[attname] != value and not _frozen_change_allowed(name, value):
            raise IssuedDocumentEdited(f"{type(document).__name__}.{name} is frozen once issued")


class LineQuerySet(models.QuerySet[_Issued]):
    def update(self, **kwargs: Any) -> int:
        raise IssuedDocumentEdited("the lines of an issued document are never edited")


class InvoiceLineQuerySet(LineQuerySet["InvoiceLine"]):
    pass


class CreditNoteLineQuerySet(LineQuerySet["CreditNoteLine"]):
    pass


class IssuedLine(models.Model):
    """A line of an issued invoice or credit note: written once, never edited or deleted."""

    document_name = "document"

    description = models.CharField(_("description"), max_length=255)
    amount = models.IntegerField(_("amount (minor units)"))
    period_start = models.DateTimeField(_("from"))
    period_end = models.DateTimeField(_("to"))

    class Meta:
        abstract = True
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise IssuedDocumentEdited(
                f"the lines of an issued {self.document_name} are never edited"
            )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise IssuedDocumentEdited(f"the lines of an issued {self.document_name} are never deleted")


class InvoiceLine(IssuedLine):
    document_name = "invoice"

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")

    objects = InvoiceLineQuerySet.as_manager()

    class Meta(IssuedLine.Meta):
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")


class CreditNoteSequence(models.Model):
    """Gapless credit note numbers per year, apart from the invoices': AV-2026-000001."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("credit note sequence")
        verbose_name_plural = _("credit note sequences")

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class CreditNoteReason(models.TextChoices):
    REFUND = "refund", _("refund")
    CREDIT = "credit", _("credit on the account")


CREDIT_NOTE_FROZEN_FIELDS = (
    "number",
    "invoice",
    "reason",
    "currency",
    "subtotal",
    "tax",
    "total",
    "tax_rate_bps",
    "tax_regime",
    "period_start",
    "period_end",
    "issued_at",
    "eur_rate",
    "tax_eur",
    "seller",
    "buyer",
    "language",
)


class CreditNoteQuerySet(IssuedQuerySet["CreditNote"]):
    frozen = CREDIT_NOTE_FROZEN_FIELDS


class CreditNote(models.Model):
    """A credit note (facture d'avoir): the only way an issued invoice is corrected. One per
    refund made, or per credit granted; never edited or deleted."""

    number = models.CharField(_("number"), max_length=20, unique=True)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="credit_notes", verbose_name=_("invoice")
    )
    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        related_name="credit_notes",
        verbose_name=_("customer"),
    )
    refund = models.OneToOneField(
        "RefundRequest",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credit_note",
        verbose_name=_("refund"),
    )
    reason = models.CharField(_("reason"), max_length=10, choices=CreditNoteReason.choices)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    subtotal = models.IntegerField(_("subtotal (minor units)"))
    tax = models.IntegerField(_("tax (minor units)"))
    total = models.IntegerField(_("total (minor units)"))
    tax_rate_bps = models.PositiveIntegerField(_("tax rate (basis points)"))
    tax_regime = models.CharField(
        _("VAT rule"), max_length=16, choices=TaxRegime.choices, default=TaxRegime.FRENCH_VAT
    )
    # CGI art. 242 nonies A: in another currency, the French VAT is stated in euros too, at
    # the rate of the invoice it corrects (the VAT it gives back was declared at that rate);
    # empty without French VAT or in euros.
    eur_rate = models.DecimalField(
        _("euros for one unit of the currency"),
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
    )
    tax_eur = models.IntegerField(_("VAT in euro cents"), null=True, blank=True)
    period_start = models.DateTimeField(_("period start"))
    period_end = models.DateTimeField(_("period end"))
    issued_at = models.DateTimeField(_("issued"))
    # Refunded to the card on this date; empty for a credit kept on the account.
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True)
    seller = models.JSONField(_("seller"), default=dict)
    buyer = models.JSONField(_("buyer"), default=dict)
    language = models.CharField(_("language"), max_length=8, default="fr")

    objects = CreditNoteQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gt=0), name="credit_note_total_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(total=models.F("subtotal") + models.F("tax")),
                name="credit_note_total_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            _refuse_frozen_changes(self, CREDIT_NOTE_FROZEN_FIELDS, kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise IssuedDocumentEdited("an issued credit note is never deleted")

    @property
    def is_credit_note(self) -> bool:
        return True


class CreditNoteLine(IssuedLine):
    document_name = "credit note"

    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")

    objects = CreditNoteLineQuerySet.as_manager()

    class Meta(IssuedLine.Meta):
        verbose_name = _("credit note line")
        verbose_name_plural = _("credit note lines")


class AttemptStatus(models.TextChoices):
    PENDING = "pending", _("in progress")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")
    REQUIRES_ACTION = "requires_action", _("needs authentication")


class PaymentAttempt(models.Model):
    """One try at charging an invoice; its id is the Stripe idempotency key's source."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveSmallIntegerField(_("attempt"))
    status = models.CharField(
        _("status"), max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.PENDING
    )
    amount = models.IntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    payment_intent_id = models.CharField(_("Stripe payment intent"), max_length=64, blank=True)
    client_secret = models.CharField(max_length=255, blank=True, editable=False)
    failure_code = models.CharField(_("failure code"), max_length=64, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    trigger = models.CharField(_("trigger"), max_length=16)
    # The card charged: a retry with the same card reuses the same idempotency key.
    payment_method_id = models.CharField(_("card"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["invoice", "number"]
        verbose_name = _("payment attempt")
        verbose_name_plural = _("payment attempts")
        constraints = [
            models.UniqueConstraint(fields=["invoice", "number"], name="attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number} #{self.number}"

    @property
    def idempotency_key(self) -> str:
        return f"portal-invoice-{self.invoice_id}-attempt-{self.number}"

    @property
    def reason(self) -> str:
        """Why it failed, in the language being rendered (Stripe's own text is English)."""
        return str(decline_reason(self.failure_code))


def decline_reason(code: str) -> str:
    """A Stripe decline or error code as the portal says it; never Stripe's English text.

    Codes Stripe asks not to reveal (lost, stolen, fraudulent...) read as a plain decline;
    no code, no reason.
    """
    if not code:
        return ""
    return str(DECLINE_REASONS.get(code, DECLINE_REASONS["card_declined"]))


_DECLINED = _("the bank declined the payment")
_CALL_BANK = _("the bank declined the payment: please contact your bank")
_TRY_LATER = _("the bank could not process the payment: please try again later")
_NOT_SUPPORTED = _("this card does not accept this kind of payment")
_WRONG_DETAILS = _("the card details are incorrect")
# Stripe's documented decline codes (stripe.com/docs/declines/codes) and card errors.
DECLINE_REASONS = {
    "card_declined": _DECLINED,
    "generic_decline": _DECLINED,
    "do_not_honor": _DECLINED,
    "do_not_try_again": _DECLINED,
    "no_action_taken": _DECLINED,
    "not_permitted": _DECLINED,
    "revocation_of_all_authorizations": _DECLINED,
    "revocation_of_authorization": _DECLINED,
    "security_violation": _DECLINED,
    "stop_payment_order": _DECLINED,
    "transaction_not_allowed": _DECLINED,
    "restricted_card": _DECLINED,
    "testmode_decline": _DECLINED,
    # Not to be revealed to the customer (Stripe): a plain decline.
    "fraudulent": _DECLINED,
    "lost_card": _DECLINED,
    "stolen_card": _DECLINED,
    "pickup_card": _DECLINED,
    "merchant_blacklist": _DECLINED,
    "call_issuer": _CALL_BANK,
    "approve_with_id": _CALL_BANK,
    "invalid_account": _CALL_BANK,
    "new_account_information_available": _CALL_BANK,
    "card_velocity_exceeded": _("the card has reached its spending limit"),
    "withdrawal_count_limit_exceeded": _("the card has reached its spending limit"),
    "insufficient_funds": _("insufficient funds"),
    "invalid_amount": _("the bank refused this amount"),
    "duplicate_transaction": _("the same payment was just made with this card"),
    "expired_card": _("the card has expired"),
    "invalid_expiry_month": _("the expiry date is incorrect"),
    "invalid_expiry_year": _("the expiry date is incorrect"),
    "incorrect_cvc": _("the card's security code is incorrect"),
    "invalid_cvc": _("the card's security code is incorrect"),
    "incorrect_number": _("the card number is incorrect"),
    "invalid_number": _("the card number is incorrect"),
    "incorrect_zip": _("the postal code does not match the card"),
    "incorrect_pin": _WRONG_DETAILS,
    "invalid_pin": _WRONG_DETAILS,
    "pin_try_exceeded": _WRONG_DETAILS,
    "offline_pin_required": _NOT_SUPPORTED,
    "online_or_offline_pin_required": _NOT_SUPPORTED,
    "card_not_supported": _NOT_SUPPORTED,
    "service_not_allowed": _NOT_SUPPORTED,
    "currency_not_supported": _("this card cannot pay in this currency"),
    "issuer_not_available": _TRY_LATER,
    "processing_error": _TRY_LATER,
    "reenter_transaction": _TRY_LATER,
    "try_again_later": _TRY_LATER,
    "authentication_required": _("the bank asks for an authentication"),
    "setup_intent_authentication_failure": _("the bank could not authenticate the card"),
    "payment_intent_authentication_failure": _("the bank could not authenticate the card"),
    # Stripe.js, while the card is typed.
    "incomplete_number": _("the card number is incomplete"),
    "incomplete_expiry": _("the expiry date is incomplete"),
    "incomplete_cvc": _("the card's security code is incomplete"),
    "incomplete_zip": _("the postal code is incomplete"),
    "invalid_expiry_year_past": _("the card has expired"),
    # The portal's own.
    "no_card": _("no card is saved on your account"),
    "unavailable": _("the payment service did not answer"),
}


class AuditEvent(models.Model):
    """What happened to a customer, written by services: the timeline staff read."""

    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.CASCADE,
        null=True,
        related_name="audit_events",
        verbose_name=_("customer"),
    )
    actor = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(_("event"), max_length=48, db_index=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self) -> str:
        return f"{_('event')} {self.pk}"


class RefundReason(models.TextChoices):
    SERVICE_PROBLEM = "service_problem", _("The service did not work as described")
    BILLING_ERROR = "billing_error", _("I was billed by mistake")
    CHANGED_MIND = "changed_mind", _("I changed my mind")
    BOUGHT_BY_MISTAKE = "bought_by_mistake", _("I bought it by mistake")
    BOUGHT_TO_EVALUATE = "bought_to_evaluate", _("I bought it to evaluate it")
    NO_LONGER_USED = "no_longer_used", _("I no longer use it")
    OTHER = "other", _("Another reason")
    CANCELLATION = "cancellation", _("Cancellation")
    ACCOUNT_DELETION = "account_deletion", _("Account deletion")


# 002: these are not grounds for a refund outside the automatic rules.
NOT_GROUNDS_FOR_REVIEW = (
    RefundReason.CHANGED_MIND,
    RefundReason.BOUGHT_BY_MISTAKE,
    RefundReason.BOUGHT_TO_EVALUATE,
    RefundReason.NO_LONGER_USED,
)


class RefundStatus(models.TextChoices):
    REVIEW = "review", _("waiting for our review")
    PROCESSING = "processing", _("being refunded")
    FAILED = "failed", _("failed, retrying")
    SUCCEEDED = "succeeded", _("refunded")
    REJECTED = "rejected", _("rejected")


class RefundRequest(models.Model):
    """One refund of one payment; at most one that is not rejected, ever (002)."""

    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.CASCADE,
        related_name="refund_requests",
        verbose_name=_("customer"),
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="refund_requests", verbose_name=_("invoice")
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.SET_NULL, null=True, related_name="refund_requests"
    )
    reason = models.CharField(_("reason"), max_length=20, choices=RefundReason.choices)
    details = models.TextField(_("details"), blank=True)
    rule = models.CharField(_("rule"), max_length=20)
    status = models.CharField(_("status"), max_length=10, choices=RefundStatus.choices)
    quoted_amount = models.PositiveIntegerField(_("quoted (minor units)"))
    amount = models.PositiveIntegerField(_("amount (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3)
    ends_at = models.DateTimeField(_("subscription ends"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    due_by = models.DateTimeField(_("decision due by"), null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)
    stripe_refund_id = models.CharField(_("Stripe refund"), max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, db_index=True)
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True)
    # Kept after all ("keep my subscription"): the invoice that charged these months again.
    charged_back_by = models.ForeignKey(
        Invoice,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("charged again by"),
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="refund_user_newest")]
        permissions = [("decide_refund", _("Can decide refunds"))]
        constraints = [
            # One refund per payment, ever, whatever is clicked twice or from two tabs; a
            # refund charged again ("keep my subscription") gives the payment back its due.
            models.UniqueConstraint(
                fields=["invoice"],
                condition=~models.Q(status="rejected") & models.Q(charged_back_by__isnull=True),
                name="refund_one_per_payment",
            )
        ]

    def __str__(self) -> str:
        return f"{self.invoice.number}: {self.get_status_display()}"

    @property
    def idempotency_key(self) -> str:
        return f"portal-refund-{self.pk}"


class ChangeRequestStatus(models.TextChoices):
    PENDING = "pending", _("waiting for our review")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", _("withdrawn")


class ContractChangeRequest(models.Model):
    """000: under a 12-month commitment a change of plan is a staff decision."""

    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.CASCADE,
        related_name="change_requests",
        verbose_name=_("customer"),
    )
    subscription = models.ForeignKey(
        Subscription,
        on_delete=models.CASCADE,
        related_name="change_requests",
        verbose_name=_("subscription"),
    )
    target_price = models.ForeignKey(
        Price, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested plan")
    )
    reason = models.CharField(_("reason"), max_length=200)
    message = models.TextField(_("message"), blank=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ChangeRequestStatus.choices,
        default=ChangeRequestStatus.PENDING,
        db_index=True,
    )
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    decided_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_reason = models.TextField(_("decision reason"), blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("contract change request")
        verbose_name_plural = _("contract change requests")
        permissions = [("review_contract_change", _("Can review contract changes"))]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription"],
                condition=models.Q(status="pending"),
                name="change_request_one_pending",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription.reference} → {self.target_price.plan.name}"


class AccountingExportStatus(models.TextChoices):
    QUEUED = "queued", _("waiting to start")
    RUNNING = "running", _("in preparation")
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")


def accounting_export_storage() -> PrivateAccountingStorage:
    """A callable, so migrations record a reference rather than a path."""
    return accounting_storage


class AccountingExport(models.Model):
    """For the accountant: every invoice and credit note issued between two dates, as their
    Factur-X PDFs plus a CSV journal, in one zip built by a task; staff download it."""

    requested_by = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    start = models.DateField(_("from"))
    end = models.DateField(_("to (included)"))
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=AccountingExportStatus.choices,
        default=AccountingExportStatus.QUEUED,
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    documents = models.PositiveIntegerField(_("documents"), default=0)
    file = models.FileField(
        _("file"), storage=accounting_export_storage, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("requested"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("accounting export")
        verbose_name_plural = _("accounting exports")

    def __str__(self) -> str:
        return f"{self.start} \N{EN DASH} {self.end}"

    @property
    def is_pending(self) -> bool:
        return self.status in (AccountingExportStatus.QUEUED, AccountingExportStatus.RUNNING)

    @property
    def download_name(self) -> str:
        return f"invoices-{self.start:%Y-%m-%d}-{self.end:%Y-%m-%d}.zip"
