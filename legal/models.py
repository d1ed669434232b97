from django.conf import settings
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _


class TermsVersion(models.Model):
    """One version of the terms of service (004: versions with a "last updated" date)."""

    version = models.CharField(_("version"), max_length=20, unique=True)
    last_updated = models.DateField(_("last updated"))
    body_fr = models.TextField(
        _("text (French)"), help_text=_("Plain text: a blank line separates paragraphs.")
    )
    body_en = models.TextField(
        _("text (English)"), help_text=_("Plain text: a blank line separates paragraphs.")
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True, editable=False)
    # Customers were told of this version (once: publishing twice sends nothing).
    notified_at = models.DateTimeField(
        _("customers e-mailed"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-last_updated", "-pk"]
        verbose_name = _("terms version")
        verbose_name_plural = _("terms versions")

    def __str__(self) -> str:
        return self.version

    @property
    def body(self) -> str:
        return self.body_fr if translation.get_language() == "fr" else self.body_en


class TermsSeen(models.Model):
    """A customer displayed this version of the terms."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="terms_seen",
        verbose_name=_("customer"),
    )
    version = models.ForeignKey(
        TermsVersion, on_delete=models.CASCADE, related_name="seen", verbose_name=_("version")
    )
    seen_at = models.DateTimeField(_("seen"))

    class Meta:
        ordering = ["-seen_at"]
        verbose_name = _("terms seen")
        verbose_name_plural = _("terms seen")
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="terms_seen_once_per_version")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.version}"


class TermsAcceptance(models.Model):
    """A customer accepted this version of the terms, when subscribing (004: the version
    accepted is kept with its date)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="terms_acceptances",
        verbose_name=_("customer"),
    )
    # PROTECT: a version a customer accepted stays readable.
    version = models.ForeignKey(
        TermsVersion,
        on_delete=models.PROTECT,
        related_name="acceptances",
        verbose_name=_("version"),
    )
    accepted_at = models.DateTimeField(_("accepted"))
    subscription = models.ForeignKey(
        "subscriptions.Subscription",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="terms_acceptances",
        verbose_name=_("subscription"),
    )

    class Meta:
        ordering = ["-accepted_at", "-pk"]
        verbose_name = _("terms acceptance")
        verbose_name_plural = _("terms acceptances")

    def __str__(self) -> str:
        return f"{self.user} {self.version}"
