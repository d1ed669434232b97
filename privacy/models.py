from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from privacy.storage import export_storage


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("waiting to start")
    RUNNING = "running", _("in preparation")
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")
    EXPIRED = "expired", _("expired")


PENDING_STATUSES = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class DataExport(models.Model):
    """A zip of everything the portal holds about a customer (001), built by a task and
    downloaded through a private link that only its owner can open, for a few days."""

    user = models.ForeignKey(
        "accounts.User",
        on_delete=models.CASCADE,
        related_name="data_exports",
        verbose_name=_("customer"),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    file = models.FileField(_("file"), storage=export_storage, blank=True, editable=False)
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    token = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("link expires"), null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="export_user_newest")]
        constraints = [
            # One export in preparation per customer, whatever is clicked twice.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["queued", "running"]),
                name="dataexport_one_pending_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING_STATUSES

    @property
    def is_expired(self) -> bool:
        return self.status == ExportStatus.EXPIRED or (
            self.status == ExportStatus.READY
            and self.expires_at is not None
            and self.expires_at <= timezone.now()
        )

    @property
    def is_downloadable(self) -> bool:
        return self.status == ExportStatus.READY and not self.is_expired

    @property
    def download_name(self) -> str:
        return f"data-export-{timezone.localtime(self.created_at):%Y-%m-%d}.zip"


class ErasedStripeId(models.Model):
    """A Stripe id (customer, card, payment) of a deleted account, kept as a digest only: a
    Stripe event about it that arrives after the deletion (`customer.deleted`,
    `payment_method.detached`, `charge.refunded`) is stored without its personal values."""

    digest = models.CharField(max_length=64, unique=True, editable=False)
    erased_at = models.DateTimeField(_("erased"), default=timezone.now)

    class Meta:
        verbose_name = _("erased Stripe id")
        verbose_name_plural = _("erased Stripe ids")

    def __str__(self) -> str:
        return self.digest[:12]
