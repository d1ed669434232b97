"""The default catalog of DESIGN.md section 3, loaded by a data migration and `seed_catalog`.

Seeding is idempotent: existing plans and prices are left as staff edited them.
"""

from typing import Any

# Seed 000: Starter and Standard are yearly with a 12-month commitment and no refund
# (guarantee 0); Pro and Premium are monthly (or yearly without commitment) with the
# 14-day guarantee of seed 004. Seed 001: SMS reminders from Pro; branding and a 24 h
# support reply on Premium.
PLANS: list[dict[str, Any]] = [
    {
        "code": "starter",
        "rank": 10,
        "name_en": "Starter",
        "name_fr": "Starter",
        "description_en": "Collect and publish customer reviews.",
        "description_fr": "Collectez et publiez les avis de vos clients.",
        "features": ["core"],
        "support_reply_hours": 48,
        "prices": {"year": (12, {"EUR": 29000, "USD": 32000, "GBP": 25000})},
    },
    {
        "code": "standard",
        "rank": 20,
        "name_en": "Standard",
        "name_fr": "Standard",
        "description_en": "Reviews plus advanced reports and widgets.",
        "description_fr": "Les avis, plus les rapports avancés et les widgets.",
        "features": ["core", "advanced"],
        "support_reply_hours": 48,
        "prices": {"year": (12, {"EUR": 39000, "USD": 43000, "GBP": 34000})},
    },
    {
        "code": "pro",
        "rank": 30,
        "name_en": "Pro",
        "name_fr": "Pro",
        "description_en": "Everything in Standard, plus SMS reminders.",
        "description_fr": "Tout Standard, plus les rappels par SMS.",
        "features": ["core", "advanced", "sms_reminders"],
        "support_reply_hours": 48,
        "prices": {
            "month": (0, {"EUR": 4900, "USD": 5500, "GBP": 4200}),
            "year": (0, {"EUR": 49000, "USD": 55000, "GBP": 42000}),
        },
    },
    {
        "code": "premium",
        "rank": 40,
        "name_en": "Premium",
        "name_fr": "Premium",
        "description_en": "Everything in Pro, plus your own branding and a 24-hour support reply.",
        "description_fr": "Tout Pro, plus votre image de marque et une réponse du support en 24 h.",
        "features": ["core", "advanced", "sms_reminders", "custom_branding"],
        "support_reply_hours": 24,
        "prices": {
            "month": (0, {"EUR": 7900, "USD": 8900, "GBP": 6900}),
            "year": (0, {"EUR": 79000, "USD": 89000, "GBP": 69000}),
        },
    },
]


def seed(plan_model: Any, price_model: Any) -> tuple[int, int]:
    """Create what is missing; return (plans created, prices created)."""
    plans_created = prices_created = 0
    for spec in PLANS:
        fields = {k: v for k, v in spec.items() if k not in ("code", "prices")}
        plan, created = plan_model.objects.get_or_create(code=spec["code"], defaults=fields)
        plans_created += created
        for interval, (commitment, amounts) in spec["prices"].items():
            for currency, amount in amounts.items():
                _, created = price_model.objects.get_or_create(
                    plan=plan,
                    interval=interval,
                    currency=currency,
                    defaults={
                        # Before tax: the customer's VAT is added at billing (tax_rules).
                        "amount": amount,
                        "tax_behavior": "exclusive",
                        "commitment_months": commitment,
                        "guarantee_days": 0 if commitment else 14,
                    },
                )
                prices_created += created
    return plans_created, prices_created
