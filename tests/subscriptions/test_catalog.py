import importlib
import itertools

import pytest
from django.core.management import call_command

from subscriptions import policy
from subscriptions.models import Plan, Price


@pytest.mark.django_db
def test_seeding_the_catalog_twice_creates_it_once_and_keeps_staff_edits():
    call_command("seed_catalog")
    Price.objects.filter(plan__code="pro", interval="month", currency="EUR").update(amount=5900)
    call_command("seed_catalog")

    assert list(Plan.objects.values_list("code", flat=True)) == [
        "starter",
        "standard",
        "pro",
        "premium",
    ]
    assert Price.objects.count() == 18
    assert Price.objects.get(plan__code="pro", interval="month", currency="EUR").amount == 5900


@pytest.mark.django_db
def test_default_catalog_matches_the_design(catalog):
    starter, standard, pro, premium = (
        catalog[c] for c in ("starter", "standard", "pro", "premium")
    )
    assert starter.rank < standard.rank < pro.rank < premium.rank
    # 000: Starter and Standard are yearly with a 12-month commitment, no refund.
    for plan in (starter, standard):
        assert {(p.interval, p.commitment_months, p.guarantee_days) for p in plan.prices.all()} == {
            ("year", 12, 0)
        }
    # 000/004: Pro and Premium are monthly, or yearly without commitment, 14-day guarantee.
    for plan in (pro, premium):
        assert {(p.interval, p.commitment_months, p.guarantee_days) for p in plan.prices.all()} == {
            ("month", 0, 14),
            ("year", 0, 14),
        }
    # 001: SMS reminders from Pro; branding and a 24 h reply on Premium.
    assert not starter.has_feature("sms_reminders")
    assert not standard.has_feature("sms_reminders")
    assert pro.has_feature("sms_reminders")
    assert premium.has_feature("custom_branding")
    assert not pro.has_feature("custom_branding")
    assert [p.support_reply_hours for p in (starter, standard, pro, premium)] == [48, 48, 48, 24]
    # 000: euros, US dollars and pounds sterling.
    assert set(Price.objects.values_list("currency", flat=True)) == {"EUR", "USD", "GBP"}


@pytest.mark.django_db
def test_tax_is_computed_in_minor_units(catalog):
    """Prices are stored before tax; the rate is the customer's, not the price's."""
    price = Price.objects.get(plan__code="pro", interval="month", currency="EUR")
    assert not hasattr(price, "tax_rate_bps")
    french = policy.TaxTreatment("fr_vat", 2000, "FR")
    abroad = policy.TaxTreatment("outside_scope", 0, "US")
    assert price.amounts_for(french) == policy.TaxedAmount(4900, 980, 5880)
    assert price.amounts_for(abroad) == policy.TaxedAmount(4900, 0, 4900)
    price.tax_behavior = "inclusive"
    assert price.amounts_for(french) == policy.TaxedAmount(4083, 817, 4900)
    assert price.amounts_for(abroad) == policy.TaxedAmount(4900, 0, 4900)


@pytest.mark.django_db
def test_prices_rise_with_the_plan_rank_in_each_interval_and_currency(catalog):
    # Issue 17: a higher plan never costs the same or less than a lower one.
    rows: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for price in Price.objects.select_related("plan"):
        rows.setdefault((price.interval, price.currency), []).append(
            (price.plan.rank, price.amount, price.plan.code)
        )
    assert set(rows) == {(i, c) for i in ("month", "year") for c in ("EUR", "USD", "GBP")}
    for key, plans in rows.items():
        amounts = [amount for _rank, amount, _code in sorted(plans)]
        assert all(a < b for a, b in itertools.pairwise(amounts)), (key, sorted(plans))
    assert len(rows[("year", "EUR")]) == 4


@pytest.mark.django_db
def test_migration_lowers_standard_yearly_only_where_staff_left_the_old_amount(catalog):
    from django.apps import apps

    migration = importlib.import_module("subscriptions.migrations.0014_standard_yearly_below_pro")
    standard = Price.objects.filter(plan__code="standard", interval="year")
    standard.filter(currency="EUR").update(amount=49000)  # the old demo price
    standard.filter(currency="USD").update(amount=47000)  # edited by staff: kept
    migration.lower_standard_yearly(apps, None)
    assert dict(standard.values_list("currency", "amount")) == {
        "EUR": 39000,
        "USD": 47000,
        "GBP": 34000,
    }
    assert Price.objects.get(plan__code="pro", interval="year", currency="EUR").amount == 49000
