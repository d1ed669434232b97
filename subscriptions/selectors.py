from dataclasses import dataclass

from subscriptions.models import Currency, Plan, Price


@dataclass(frozen=True)
class PricingRow:
    plan: Plan
    prices: list[Price]


def pricing_table(*, currency: str) -> list[PricingRow]:
    """Offered plans with their offered prices in one currency, monthly before yearly."""
    if currency not in Currency.values:
        currency = Currency.EUR
    plans = Plan.objects.filter(is_active=True).order_by("rank")
    prices = Price.objects.filter(plan__in=plans, currency=currency, is_active=True)
    by_plan: dict[int, list[Price]] = {}
    for price in sorted(prices, key=lambda p: p.interval != "month"):
        by_plan.setdefault(price.plan_id, []).append(price)
    return [PricingRow(plan, by_plan[plan.pk]) for plan in plans if plan.pk in by_plan]
