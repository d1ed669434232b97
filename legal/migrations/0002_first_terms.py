from django.db import migrations


def load_terms(apps, schema_editor):
    from legal import content

    content.seed(apps.get_model("legal", "TermsVersion"))


class Migration(migrations.Migration):
    dependencies = [("legal", "0001_initial")]

    operations = [migrations.RunPython(load_terms, migrations.RunPython.noop)]
