"""Prices and the cost of calls: the shipped list-price table, a model API's own prices
(admins), each record's cost at the price in force when it ran, and where costs show
(Logs, Usage, /v0)."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from blaxel_console.testing.usage import usage, wait_for_usage_records
from integrations import pricing
from models_api.usage import services as usage_services
from models_api.usage import storage
from models_api.usage.models import PriceOverride, UsageRecord, UsageRollup
from workspaces.models import AuditLogEntry

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


# --- the table ------------------------------------------------------------------------------


def test_the_shipped_table_prices_models_and_their_dated_snapshots():
    price = pricing.list_price("openai", "gpt-4o")
    assert (price.input, price.output, price.cached_input) == (
        Decimal("2.50"),
        Decimal("10.00"),
        Decimal("1.25"),
    )
    assert price.taken_on == date(2025, 8, 7)
    assert pricing.list_price("openai", "gpt-4o-mini-2024-07-18").input == Decimal("0.15")
    # A snapshot listed on its own keeps its own price.
    assert pricing.list_price("openai", "gpt-4o-2024-05-13").input == Decimal("5.00")
    assert pricing.list_price("openai", "my-fine-tune") is None
    assert pricing.list_price("no-such-provider", "gpt-4o") is None


def test_a_call_is_priced_by_the_table_in_force_on_its_day(tmp_path, monkeypatch):
    def table(taken_on, input_price):
        prices = {"m": {"input": input_price, "output": "2"}}
        return {"provider": "p", "taken_on": taken_on, "source": "s", "models": prices}

    tables = {"tables": [table("2025-01-01", "1"), table("2025-06-01", "3")]}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(tables))
    monkeypatch.setattr(pricing, "PRICE_TABLE_PATH", path)
    pricing.price_tables.cache_clear()
    try:
        assert pricing.list_price("p", "m", date(2025, 3, 1)).input == 1
        assert pricing.list_price("p", "m", datetime(2025, 7, 1, tzinfo=UTC)).input == 3
        # Before the first table: the oldest one.
        assert pricing.list_price("p", "m", date(2024, 1, 1)).input == 1
    finally:
        pricing.price_tables.cache_clear()


def test_cost_counts_cached_input_at_its_own_rate_in_whole_nano_dollars():
    price = pricing.list_price("openai", "gpt-4o")
    # 800 fresh input × $2.50 + 200 cached × $1.25 + 500 output × $10 per million tokens.
    cost = price.cost_nano_usd(input_tokens=1000, cached_input_tokens=200, output_tokens=500)
    assert cost == (800 * 2500 + 200 * 1250 + 500 * 10_000)
    assert pricing.format_usd(cost) == "$0.007250"
    # No cached rate: cached tokens cost the input rate; no output rate: output is free.
    flat = pricing.Price(input=Decimal("0.5"), output=None)
    assert flat.cost_nano_usd(input_tokens=10, cached_input_tokens=4, output_tokens=7) == 5000


# --- records ---------------------------------------------------------------------------------


def test_each_record_is_priced_as_it_is_written_and_rollups_sum_the_cost(workspace, bare_model_api):
    mini = bare_model_api(workspace, name="mini", model="gpt-4o-mini")
    custom = bare_model_api(workspace, name="custom", model="my-fine-tune")
    storage.store_usage_records(
        [
            usage(mini, request_id="a", tokens=(1000, 100), cached_input_tokens=400),
            usage(mini, request_id="b", tokens=(0, 0), status=401),
            usage(custom, request_id="c", tokens=(50, 50)),
        ]
    )

    records = {record.request_id: record for record in UsageRecord.objects.all()}
    # gpt-4o-mini: 600 × $0.15 + 400 × $0.075 + 100 × $0.60 per million tokens.
    assert records["a"].cost_nano_usd == 600 * 150 + 400 * 75 + 100 * 600
    assert records["a"].model == "gpt-4o-mini" and records["a"].cached_input_tokens == 400
    assert records["b"].cost_nano_usd == 0
    assert records["c"].cost_nano_usd is None  # no known price
    assert (
        UsageRollup.objects.get(model_api_name="mini").cost_nano_usd == records["a"].cost_nano_usd
    )


def test_a_model_api_with_its_own_prices_costs_those_from_then_on(
    workspace, bare_model_api, admin_principal
):
    custom = bare_model_api(workspace, name="custom", model="my-fine-tune")
    storage.store_usage_records([usage(custom, request_id="before", tokens=(100, 100))])
    usage_services.set_price_override(
        model_api=custom,
        actor=admin_principal,
        input_per_million=Decimal("1.000"),
        output_per_million=Decimal("3.000"),
    )
    storage.store_usage_records([usage(custom, request_id="after", tokens=(100, 100))])

    before, after = (UsageRecord.objects.get(request_id=r) for r in ("before", "after"))
    assert before.cost_nano_usd is None  # a recorded cost never changes
    assert after.cost_nano_usd == 100 * 1000 + 100 * 3000
    entry = AuditLogEntry.objects.get(action="model_api.prices.set")
    assert entry.target_label == "custom"
    assert entry.changes["input_per_million"] == [None, "1.000"]

    assert usage_services.clear_price_override(model_api=custom, actor=admin_principal)
    assert not PriceOverride.objects.exists()
    assert AuditLogEntry.objects.filter(action="model_api.prices.clear").count() == 1


# --- screens and /v0 -----------------------------------------------------------------------------


@pytest.fixture
def priced_calls(workspace, bare_model_api):
    api = bare_model_api(workspace, name="my-gpt", model="gpt-4o")
    now = datetime.now(UTC) - timedelta(minutes=1)
    storage.store_usage_records(
        [
            usage(
                api,
                request_id="ada-1",
                when=now,
                tokens=(1000, 1000),
                caller="ada@example.com",
                api_key_prefix="bl_ada12345",
            ),
            usage(
                api,
                request_id="bot-1",
                when=now,
                tokens=(100, 0),
                caller="service account ci-bot",
                api_key_prefix="bl_bot98765",
            ),
        ]
    )
    return api


def test_logs_usage_and_the_api_show_what_calls_cost(member_client, member_api, priced_calls):
    logs = member_client.get("/acme/models/my-gpt/logs/").content.decode()
    assert "$0.012500" in logs  # 1000 × $2.50 + 1000 × $10 per million tokens

    page = member_client.get("/acme/usage/?range=1h")
    callers = page.context["callers"]
    assert [(row["caller"], row["cost_nano_usd"]) for row in callers] == [
        ("ada@example.com", 12_500_000),
        ("service account ci-bot", 250_000),
    ]
    assert "bl_bot98765…" in page.content.decode()

    response = member_api.get("/v0/models/my-gpt/logs")
    assert response.status_code == 200
    entries = {entry["requestId"]: entry for entry in response.json()["data"]}
    assert entries["ada-1"]["cost"] == {"amount": 0.0125, "currency": "USD", "estimated": False}
    assert entries["ada-1"]["model"] == "gpt-4o"


def test_everyone_sees_prices_and_only_admins_set_them(
    admin_client, member_client, outsider_client, priced_calls, other_workspace, bare_model_api
):
    page = member_client.get("/acme/settings/prices/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "$2.50" in html and "list price of 2025-08-07" in html
    assert "/acme/settings/prices/my-gpt/" not in html  # no edit link for members
    form = {"input_per_million": "2.000", "output_per_million": "8.000"}
    assert member_client.get("/acme/settings/prices/my-gpt/").status_code == 403
    assert member_client.post("/acme/settings/prices/my-gpt/", form).status_code == 403
    assert outsider_client.get("/acme/settings/prices/").status_code == 404
    bare_model_api(other_workspace, name="theirs")
    assert admin_client.get("/globex/settings/prices/theirs/").status_code == 404
    assert admin_client.get("/acme/settings/prices/theirs/").status_code == 404
    assert not PriceOverride.objects.exists()

    bad = admin_client.post("/acme/settings/prices/my-gpt/", {"input_per_million": "-1"})
    assert bad.status_code == 200
    assert bad.context["form"].errors.keys() == {"input_per_million", "output_per_million"}

    saved = admin_client.post("/acme/settings/prices/my-gpt/", form)
    assert saved.status_code == 302
    assert PriceOverride.objects.get().input_per_million == Decimal("2.000")
    assert "own prices" in admin_client.get("/acme/settings/prices/").content.decode()

    cleared = admin_client.post("/acme/settings/prices/my-gpt/", {"clear": "1"})
    assert cleared.status_code == 302 and not PriceOverride.objects.exists()


# --- through the gateway ------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.usefixtures("usage_written_before_teardown")
def test_a_gateway_call_records_its_model_cached_tokens_and_cost(
    asgi_server, acme_model_api, member_key, fake_openai, openai_clients
):
    fake_openai.configure(chunk_count=5, cached_prompt_tokens=2)
    client, _ = openai_clients(asgi_server, member_key)
    plain = client.chat.completions.create(
        model="whatever-the-caller-names",
        messages=[{"role": "user", "content": "one two three four"}],
    )
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert plain.usage.prompt_tokens_details.cached_tokens == 2

    for record in wait_for_usage_records(2):
        # The model API's model (gpt-4o-mini), whatever the request named: 2 fresh and 2
        # cached prompt tokens, 5 completion tokens.
        assert (record.provider, record.model) == ("openai", "gpt-4o-mini")
        assert (record.input_tokens, record.cached_input_tokens) == (4, 2)
        assert record.cost_nano_usd == 2 * 150 + 2 * 75 + 5 * 600
