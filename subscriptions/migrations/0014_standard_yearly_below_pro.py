"""Standard yearly cost as much as Pro yearly while offering less (issue 17): its demo prices
fall below Pro's so that prices rise with the plan's rank. A price staff already edited is left."""

from django.db import migrations

OLD_TO_NEW = {"EUR": (49000, 39000), "USD": (54000, 43000), "GBP": (42000, 34000)}


def lower_standard_yearly(apps, schema_editor):
    price_model = apps.get_model("subscriptions", "Price")
    for currency, (old, new) in OLD_TO_NEW.items():
        price_model.objects.filter(
            plan__code="standard", interval="year", currency=currency, amount=old
        ).update(amount=new)


def restore_standard_yearly(apps, schema_editor):
    price_model = apps.get_model("subscriptions", "Price")
    for currency, (old, new) in OLD_TO_NEW.items():
        price_model.objects.filter(
            plan__code="standard", interval="year", currency=currency, amount=new
        ).update(amount=old)


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0013_invoice_credit_prepayment_and_taxed_charge_back")]

    operations = [migrations.RunPython(lower_standard_yearly, restore_standard_yearly)]
