from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Customers and staff")

    def ready(self) -> None:
        from allauth.account.signals import email_changed

        from accounts.services import email_change_audit

        email_changed.connect(email_change_audit, dispatch_uid="accounts-email-changed")
