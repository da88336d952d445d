"""Logs, Metrics and Usage: screens and `/v0` endpoints (numbers, filters, pagination,
roles, other workspaces), the Prometheus endpoint, and the charts rendered in Chromium
with no network."""

from datetime import UTC, datetime, timedelta

import pytest

from blaxel_console.testing.browser import screenshot
from blaxel_console.testing.usage import usage
from models_api.usage import prometheus, storage

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]


@pytest.fixture
def calls(workspace, other_workspace, bare_model_api):
    """`my-gpt` in acme: 60 calls over the last hour (newest first: 2xx except every
    tenth 5xx and every seventh 429), from two callers on two paths; one call in globex."""
    api = bare_model_api(workspace, name="my-gpt", model="gpt-4o-mini")
    foreign = bare_model_api(other_workspace, name="my-gpt")
    now = datetime.now(UTC)
    payloads = []
    for index in range(60):
        status = 500 if index % 10 == 0 else 429 if index % 7 == 0 else 200
        payloads.append(
            usage(
                api,
                request_id=f"req-{index:02d}",
                when=now - timedelta(seconds=30 + index * 55),
                status=status,
                latency=100 + index,
                ttfb=20,
                tokens=(10, 5) if status == 200 else (0, 0),
                caller="ada@example.com" if index % 2 else "service account ci-bot",
                api_key_prefix="bl_ada12345" if index % 2 else "bl_bot98765",
                path="v1/embeddings" if index % 3 == 0 else "v1/chat/completions",
                error_type="upstream_timeout" if status == 500 else "",
            )
        )
    payloads.append(usage(foreign, request_id="req-foreign", when=now))
    storage.store_usage_records(payloads)
    return api


# --- Logs -------------------------------------------------------------------------------------


def test_logs_tab_lists_calls_newest_first_with_their_details(member_client, calls):
    response = member_client.get("/acme/models/my-gpt/logs/")

    assert response.status_code == 200
    records = response.context["records"]
    assert [r.request_id for r in records] == [f"req-{i:02d}" for i in range(50)]
    html = response.content.decode()
    # Each row opens onto its details: request id, caller, key prefix, latency, TTFB, tokens.
    assert html.count('<details class="log-entry"') == 50
    for text in ("req-01", "ada@example.com", "bl_ada12345…", "101.0 ms", "20.0 ms", "10 in"):
        assert text in html
    assert "req-foreign" not in html
    assert response.context["next_cursor"]


def test_logs_pagination_walks_every_call_once(member_client, calls):
    first = member_client.get("/acme/models/my-gpt/logs/")
    second = member_client.get(f"/acme/models/my-gpt/logs/?cursor={first.context['next_cursor']}")

    ids = [r.request_id for r in first.context["records"] + second.context["records"]]
    assert ids == [f"req-{i:02d}" for i in range(60)]
    assert second.context["next_cursor"] == ""
    assert member_client.get("/acme/models/my-gpt/logs/?cursor=garbage").status_code == 404


def test_logs_filters(member_client, calls):
    def ids(query):
        response = member_client.get(f"/acme/models/my-gpt/logs/?{query}")
        assert response.status_code == 200
        return {r.request_id for r in response.context["records"]}

    assert ids("status=5xx") == {f"req-{i:02d}" for i in range(0, 60, 10)}
    assert ids("status=4xx") == {f"req-{i:02d}" for i in range(60) if i % 7 == 0 and i % 10}
    assert ids("caller=ci-bot&path=embeddings") == {
        f"req-{i:02d}" for i in range(60) if i % 2 == 0 and i % 3 == 0
    }
    now = datetime.now(UTC)
    since = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    assert ids(f"since={since}") == {f"req-{i:02d}" for i in range(60) if 30 + i * 55 <= 300}


def test_logs_bad_filters_show_field_errors(member_client, calls):
    response = member_client.get(
        "/acme/models/my-gpt/logs/?status=3xx&since=2026-01-02T00:00&until=2026-01-01T00:00"
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"status", "until"}
    assert response.context["records"] == []


def test_logs_never_show_prompts_or_keys(member_client, calls, admin_user, personal_key):
    raw_key = personal_key(admin_user)
    html = member_client.get("/acme/models/my-gpt/logs/").content.decode()
    assert raw_key not in html and raw_key[12:] not in html


def test_logs_and_metrics_tabs_of_another_workspace_are_404(outsider_client, calls):
    for tab in ("logs", "metrics", "policies"):
        assert outsider_client.get(f"/acme/models/my-gpt/{tab}/").status_code == 404
    # globex has its own `my-gpt`; its pages never show acme's calls.
    logs = outsider_client.get("/globex/models/my-gpt/logs/")
    assert [r.request_id for r in logs.context["records"]] == ["req-foreign"]
    assert outsider_client.get("/acme/usage/").status_code == 404


def test_logs_api(member_api, calls):
    response = member_api.get("/v0/models/my-gpt/logs?limit=25&status=2xx")
    assert response.status_code == 200
    body = response.json()
    assert len(body["data"]) == 25 and body["meta"]["hasMore"] is True
    first = body["data"][0]
    assert set(first) == {
        "requestId", "time", "caller", "apiKeyPrefix", "path", "status", "latencyMs", "ttfbMs",
        "tokens", "streamed", "error", "connection", "model", "cost",
    }  # fmt: skip
    assert first["status"] == 200
    assert first["tokens"] == {
        "input": 10, "output": 5, "total": 15, "cachedInput": 0, "estimated": False,
    }  # fmt: skip
    # gpt-4o-mini: 10 × $0.15 + 5 × $0.60 per million tokens.
    assert first["cost"] == {"amount": 4.5e-06, "currency": "USD", "estimated": False}
    seen = [item["requestId"] for item in body["data"]]
    while body["meta"]["hasMore"]:
        body = member_api.get(
            f"/v0/models/my-gpt/logs?limit=25&status=2xx&cursor={body['meta']['nextCursor']}"
        ).json()
        seen += [item["requestId"] for item in body["data"]]
    expected = [f"req-{i:02d}" for i in range(60) if i % 10 and i % 7]
    assert seen == expected

    assert member_api.get("/v0/models/my-gpt/logs?limit=500").status_code == 400
    bad_cursor = member_api.get("/v0/models/my-gpt/logs?cursor=%%%")
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()["fields"]
    assert member_api.get("/v0/models/my-gpt/logs?status=1xx").status_code == 400
    assert member_api.get("/v0/models/nope/logs").status_code == 404


def test_metrics_and_usage_api(member_api, calls):
    metrics_body = member_api.get("/v0/models/my-gpt/metrics?range=1h").json()
    summary = metrics_body["summary"]
    fives = len(range(0, 60, 10))
    fours = len([i for i in range(60) if i % 7 == 0 and i % 10])
    assert summary["requests"] == 60
    assert (summary["requests5xx"], summary["requests4xx"]) == (fives, fours)
    assert summary["requests2xx"] == 60 - fives - fours
    assert summary["upstreamErrors"] == fives
    assert summary["tokens"]["total"] == 15 * (60 - fives - fours)
    assert summary["latencyMs"]["avg"] == pytest.approx(100 + 59 / 2)
    assert summary["estimatedCost"]["estimate"] is True
    assert len(metrics_body["series"]) == 60
    assert metrics_body["series"][0]["time"].endswith("Z")

    usage_body = member_api.get("/v0/usage?range=24h").json()
    assert usage_body["workspace"] == "acme"
    assert usage_body["summary"]["requests"] == 60  # globex's call is not counted
    assert [row["name"] for row in usage_body["modelApis"]] == ["my-gpt"]

    bad = member_api.get("/v0/usage?range=1y")
    assert bad.status_code == 400 and "range" in bad.json()["fields"]


def test_usage_api_roles_and_workspaces(outsider_api, api_client_for, outsider, calls):
    assert outsider_api.get("/v0/usage").status_code == 403
    assert outsider_api.get("/v0/models/my-gpt/metrics").status_code == 403
    globex = api_client_for(outsider, "globex")
    assert globex.get("/v0/usage").json()["summary"]["requests"] == 1
    # globex's `my-gpt` is its own: acme's calls never show there.
    assert globex.get("/v0/models/my-gpt/metrics").json()["summary"]["requests"] == 1


def test_metrics_tab_and_usage_page_render_charts(member_client, calls):
    metrics_page = member_client.get("/acme/models/my-gpt/metrics/?range=1h")
    assert metrics_page.status_code == 200
    html = metrics_page.content.decode()
    assert html.count("<svg") == 3
    assert "Requests by status class" in html and "estimate" in html.lower()
    assert "billed" in html  # the cost is labelled as the provider's to bill

    usage_page = member_client.get("/acme/usage/?range=7d")
    assert usage_page.status_code == 200
    assert usage_page.context["summary"]["requests"] == 60
    assert b"my-gpt" in usage_page.content
    # An unknown range falls back to the one that fits the calls (the last hour's here)
    # rather than failing.
    assert member_client.get("/acme/usage/?range=2y").context["range_key"] == "1h"


def test_without_a_chosen_range_the_screens_fit_the_range_to_the_calls(
    member_client, workspace, bare_model_api
):
    api = bare_model_api(workspace, name="my-gpt")
    other = bare_model_api(workspace, name="quiet")
    # No calls at all: the usual day.
    assert member_client.get("/acme/models/my-gpt/metrics/").context["range_key"] == "24h"

    now = datetime.now(UTC)
    storage.store_usage_records([usage(api, when=now - timedelta(minutes=minutes))
                                 for minutes in (1, 2, 5)])  # fmt: skip
    page = member_client.get("/acme/models/my-gpt/metrics/")
    assert page.context["range_key"] == "1h"
    # One-minute bars: the three calls are three bars, not one squeezed at the edge.
    assert page.context["result"]["stepSeconds"] == 60
    assert sum(1 for point in page.context["result"]["series"] if point["requests"]) == 3
    assert 'href="?range=1h" aria-current="true"' in page.content.decode()
    # A chosen range stays chosen.
    assert member_client.get("/acme/models/my-gpt/metrics/?range=24h").context["range_key"] == "24h"

    storage.store_usage_records([usage(other, when=now - timedelta(days=3))])
    assert member_client.get("/acme/usage/").context["range_key"] == "7d"
    assert member_client.get("/acme/models/my-gpt/metrics/").context["range_key"] == "1h"
    assert member_client.get("/acme/models/quiet/metrics/").context["range_key"] == "7d"
    storage.store_usage_records([usage(api, when=now - timedelta(hours=5))])
    assert member_client.get("/acme/models/my-gpt/metrics/").context["range_key"] == "24h"


# --- Prometheus --------------------------------------------------------------------------------


def test_prometheus_endpoint_is_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


def test_prometheus_endpoint_needs_the_token(client, settings, calls):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    prometheus._cache.update(at=0.0)

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    acme = '{workspace="acme",model_api="my-gpt"'
    fives = len(range(0, 60, 10))
    assert f'blaxel_gateway_requests_total{acme},status_class="5xx"}} {fives}' in text
    assert f"blaxel_gateway_request_duration_seconds_count{acme}}} 60" in text
    assert f'blaxel_gateway_request_duration_seconds_bucket{acme},le="+Inf"}} 60' in text
    assert f"blaxel_gateway_upstream_errors_total{acme}}} {fives}" in text
    assert 'workspace="globex"' in text
    assert "blaxel_usage_queue_depth " in text
    # Buckets are cumulative: 100-159 ms all fall within le=0.2.
    assert f'blaxel_gateway_request_duration_seconds_bucket{acme},le="0.2"}} 60' in text


# --- charts in Chromium -----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.live
def test_charts_render_in_chromium_without_network(asgi_server, page, member_user, calls):
    from django.test import Client

    console = Client()
    console.force_login(member_user, backend="django.contrib.auth.backends.ModelBackend")
    page.context.add_cookies(
        [{"name": "sessionid", "value": console.cookies["sessionid"].value, "url": asgi_server}]
    )
    outside_requests = []

    def only_local(route):
        if route.request.url.startswith(asgi_server):
            return route.continue_()
        outside_requests.append(route.request.url)
        return route.abort()

    page.route("**/*", only_local)

    page.goto(f"{asgi_server}/acme/models/my-gpt/metrics/?range=1h")
    charts = page.locator("svg.chart")
    assert charts.count() == 3
    box = charts.first.bounding_box()
    assert box["width"] > 400 and box["height"] > 100
    # 2xx bars are drawn (green), with tooltips.
    assert page.locator('svg.chart rect[fill="#1f9d55"]').count() > 10
    assert page.locator("svg.chart polyline").count() >= 4
    screenshot(page, "usage-metrics-tab")

    page.goto(f"{asgi_server}/acme/usage/?range=24h")
    assert page.locator("svg.chart").count() == 3
    assert page.get_by_role("link", name="my-gpt").count() >= 1
    screenshot(page, "usage-usage-page")

    page.goto(f"{asgi_server}/acme/models/my-gpt/logs/")
    entry = page.locator("details.log-entry").first
    entry.locator("summary").click()
    assert entry.get_attribute("open") is not None
    assert "req-00" in entry.inner_text()
    screenshot(page, "usage-logs-tab")

    assert outside_requests == []
