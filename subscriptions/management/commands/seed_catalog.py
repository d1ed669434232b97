from typing import Any

from django.core.management.base import BaseCommand

from subscriptions import catalog
from subscriptions.models import Plan, Price


class Command(BaseCommand):
    help = "Load the default catalog (DESIGN.md section 3); safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        plans, prices = catalog.seed(Plan, Price)
        self.stdout.write(f"Catalog: {plans} plan(s) and {prices} price(s) created.")
