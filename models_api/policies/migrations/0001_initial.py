"""The policies models as they were in `models_api` (0003): state only, the tables exist."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('models_api', '0004_usage_and_policies_apps'),
        ('workspaces', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Policy',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_by_label', models.CharField(blank=True, max_length=254)),
                        ('updated_by_label', models.CharField(blank=True, max_length=254)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('name', models.CharField(max_length=49, validators=[django.core.validators.RegexValidator('^[a-z0-9]([a-z0-9-]{0,47}[a-z0-9])?$', 'Use lowercase letters, digits and hyphens (at most 49), starting and ending with a letter or digit.')])),
                        ('display_name', models.CharField(blank=True, max_length=63)),
                        ('labels', models.JSONField(blank=True, default=dict)),
                        ('type', models.CharField(choices=[('maxToken', 'Token cap'), ('rateLimit', 'Rate limit')], max_length=16)),
                        ('granularity', models.CharField(choices=[('minute', 'Minute'), ('hour', 'Hour'), ('day', 'Day'), ('month', 'Month')], default='minute', max_length=8)),
                        ('step', models.PositiveIntegerField(default=1)),
                        ('max_input_tokens', models.PositiveBigIntegerField(default=0)),
                        ('max_output_tokens', models.PositiveBigIntegerField(default=0)),
                        ('max_total_tokens', models.PositiveBigIntegerField(default=0)),
                        ('requests_per_minute', models.PositiveIntegerField(default=0)),
                        ('per_caller', models.BooleanField(default=False)),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='policies', to='workspaces.workspace')),
                    ],
                    options={
                        'verbose_name_plural': 'policies',
                        'db_table': 'models_api_policy',
                        'ordering': ['name'],
                    },
                ),
                migrations.CreateModel(
                    name='ModelAPIPolicy',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('model_api', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='policy_links', to='models_api.modelapi')),
                        ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='model_api_links', to='policies.policy')),
                    ],
                    options={
                        'db_table': 'models_api_modelapipolicy',
                        'ordering': ['policy__name'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='policy',
                    constraint=models.UniqueConstraint(fields=('workspace', 'name'), name='unique_policy_name'),
                ),
                migrations.AddConstraint(
                    model_name='modelapipolicy',
                    constraint=models.UniqueConstraint(fields=('model_api', 'policy'), name='unique_model_api_policy'),
                ),
            ],
            database_operations=[],
        ),
    ]
