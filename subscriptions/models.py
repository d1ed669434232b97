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
        return f"{self.reference} {self.plan.code} ({self.status})"

    @property
    def reference(self) -> str:
        """The contract reference shown to the customer and staff."""
        return f"C-{self.pk:06d}" if self.pk else ""

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

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


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("awaiting payment")
    PAID = "paid", _("paid")
    UNCOLLECTIBLE = "uncollectible", _("unpaid")
    VOID = "void", _("void")


class Invoice(models.Model):
    """An invoice the portal issued; numbered when issued, never renumbered or deleted."""

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
    tax_rate_bps = models.PositiveIntegerField(_("tax rate (basis points)"))
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
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def refundable_left(self) -> int:
        """What may still be refunded on this payment: never the taxes (002), never twice."""
        return max(0, self.total - self.tax - self.amount_refunded)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(_("description"), max_length=255)
    amount = models.IntegerField(_("amount (minor units)"))
    period_start = models.DateTimeField(_("from"))
    period_end = models.DateTimeField(_("to"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")

    def __str__(self) -> str:
        return self.description


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
        known = DECLINE_REASONS.get(self.failure_code)
        return str(known) if known is not None else self.failure_message or self.failure_code


DECLINE_REASONS = {
    "card_declined": _("the bank declined the payment"),
    "insufficient_funds": _("insufficient funds"),
    "expired_card": _("the card has expired"),
    "incorrect_cvc": _("the card's security code is incorrect"),
    "incorrect_number": _("the card number is incorrect"),
    "processing_error": _("the bank could not process the payment"),
    "authentication_required": _("the bank asks for an authentication"),
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
        return self.kind


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
        return f"{self.subscription.reference} -> {self.target_price.plan.code}"
