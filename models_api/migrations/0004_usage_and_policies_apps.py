"""Usage records, rollups and policies move to the apps `usage` and `policies`.

Only Django's state moves: the tables keep their names (the new models set `db_table`)
and every row stays where it is. The content types follow, so that anything pointing at
them (admin log entries, permissions) keeps pointing at the same models.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


MOVED = {"policy": "policies", "modelapipolicy": "policies", "usagerecord": "usage",
         "usagerollup": "usage"}


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label=app_label, model=model).exists():
            ContentType.objects.filter(app_label="models_api", model=model).update(
                app_label=app_label
            )


def restore_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        if not ContentType.objects.filter(app_label="models_api", model=model).exists():
            ContentType.objects.filter(app_label=app_label, model=model).update(
                app_label="models_api"
            )


class Migration(migrations.Migration):

    dependencies = [
        ('models_api', '0003_policies_rollups'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name='policy', name='created_by'),
                migrations.RemoveField(model_name='policy', name='workspace'),
                migrations.RemoveField(model_name='usagerecord', name='model_api'),
                migrations.RemoveField(model_name='usagerecord', name='workspace'),
                migrations.RemoveField(model_name='usagerollup', name='model_api'),
                migrations.RemoveField(model_name='usagerollup', name='workspace'),
                migrations.DeleteModel(name='ModelAPIPolicy'),
                migrations.DeleteModel(name='Policy'),
                migrations.DeleteModel(name='UsageRecord'),
                migrations.DeleteModel(name='UsageRollup'),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types, restore_content_types),
        migrations.AlterField(
            model_name='modelapi',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='modelapi',
            name='updated_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
    ]
