"""The usage models as they were in `models_api` (0003): state only, the tables exist."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('models_api', '0004_usage_and_policies_apps'),
        ('workspaces', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='UsageRecord',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('request_id', models.CharField(max_length=64, unique=True)),
                        ('time', models.DateTimeField(db_index=True)),
                        ('model_api_name', models.CharField(max_length=49)),
                        ('caller', models.CharField(max_length=254)),
                        ('api_key_prefix', models.CharField(blank=True, max_length=16)),
                        ('path', models.CharField(max_length=100)),
                        ('status_code', models.PositiveSmallIntegerField()),
                        ('latency_ms', models.FloatField()),
                        ('ttfb_ms', models.FloatField(blank=True, null=True)),
                        ('input_tokens', models.PositiveIntegerField(default=0)),
                        ('output_tokens', models.PositiveIntegerField(default=0)),
                        ('total_tokens', models.PositiveIntegerField(default=0)),
                        ('streamed', models.BooleanField(default=False)),
                        ('error_type', models.CharField(blank=True, max_length=64)),
                        ('connection_name', models.CharField(blank=True, max_length=49)),
                        ('model_api', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='usage_records', to='models_api.modelapi')),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='usage_records', to='workspaces.workspace')),
                    ],
                    options={
                        'db_table': 'models_api_usagerecord',
                        'ordering': ['-time'],
                        'indexes': [models.Index(fields=['model_api', '-time'], name='models_api__model_a_4b7a87_idx')],
                    },
                ),
                migrations.CreateModel(
                    name='UsageRollup',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('model_api_name', models.CharField(max_length=49)),
                        ('minute', models.DateTimeField()),
                        ('requests', models.PositiveIntegerField(default=0)),
                        ('requests_2xx', models.PositiveIntegerField(default=0)),
                        ('requests_4xx', models.PositiveIntegerField(default=0)),
                        ('requests_5xx', models.PositiveIntegerField(default=0)),
                        ('upstream_errors', models.PositiveIntegerField(default=0)),
                        ('latency_sum_ms', models.FloatField(default=0)),
                        ('ttfb_sum_ms', models.FloatField(default=0)),
                        ('ttfb_count', models.PositiveIntegerField(default=0)),
                        ('input_tokens', models.PositiveBigIntegerField(default=0)),
                        ('output_tokens', models.PositiveBigIntegerField(default=0)),
                        ('total_tokens', models.PositiveBigIntegerField(default=0)),
                        ('latency_bucket_00', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_01', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_02', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_03', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_04', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_05', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_06', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_07', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_08', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_09', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_10', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_11', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_12', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_13', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_14', models.PositiveIntegerField(default=0)),
                        ('latency_bucket_15', models.PositiveIntegerField(default=0)),
                        ('model_api', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='usage_rollups', to='models_api.modelapi')),
                        ('workspace', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='usage_rollups', to='workspaces.workspace')),
                    ],
                    options={
                        'db_table': 'models_api_usagerollup',
                        'ordering': ['minute'],
                        'indexes': [models.Index(fields=['workspace', 'minute'], name='models_api__workspa_fae0dd_idx')],
                        'constraints': [models.UniqueConstraint(fields=('workspace', 'model_api_name', 'minute'), name='unique_usage_rollup')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
