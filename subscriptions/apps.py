from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = _("Subscriptions and billing")

    def ready(self) -> None:
        from django.conf import settings
        from django.contrib import admin

        from subscriptions import (
            tasks,  # noqa: F401  the Celery tasks its services queue by name
            webhooks,
        )
        from subscriptions.gateways import stripe as stripe_gateway

        # Every admin list, ours and the libraries', pages by the same setting.
        admin.ModelAdmin.list_per_page = settings.ADMIN_PAGE_SIZE

        stripe_gateway.configure()

        from django.db.models.signals import post_delete, post_save

        from subscriptions import selectors
        from subscriptions.models import Plan, Price

        for model in (Plan, Price):
            for signal in (post_save, post_delete):
                signal.connect(selectors.pricing_forget, sender=model, dispatch_uid="pricing")
        webhooks.connect()

        from django.db.models.signals import post_migrate

        from subscriptions.groups import staff_groups_ensure

        post_migrate.connect(staff_groups_ensure, dispatch_uid="subscriptions-staff-groups")
