from django.db import migrations


def load_catalog(apps, schema_editor):
    from subscriptions import catalog

    catalog.seed(apps.get_model("subscriptions", "Plan"), apps.get_model("subscriptions", "Price"))


class Migration(migrations.Migration):
    dependencies = [("subscriptions", "0001_initial")]

    operations = [migrations.RunPython(load_catalog, migrations.RunPython.noop)]
