from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LegalConfig(AppConfig):
    name = "legal"
    verbose_name = _("Terms")

    def ready(self) -> None:
        from legal import signals, tasks  # noqa: F401  signal receivers; the Celery tasks its services queue by name
