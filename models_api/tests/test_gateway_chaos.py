"""The chaos run, small: calls through a live gateway with the fake's faults mixed in call
by call (`X-Fake-Fault`), every call matched to exactly one usage record whose status
is its fault's. Accounting only, never timing. The full run (10,000 calls at 64
connections) is `python3 dev.py chaos` (bench/README.md).

Also here: the per-request fault header reaches the fake through the gateway, and the
gateway's own error answers name their usage record, which the accounting relies on.
"""

import json
import subprocess
import sys

import httpx
import openai
import pytest

from bench.chaos_calls import fault_table
from blaxel_console.testing import database
from blaxel_console.testing.run import ROOT
from blaxel_console.testing.usage import wait_for_usage_records

CALLS, CONNECTIONS, READ_TIMEOUT = 300, 16, 5.0
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def chaos_result(transactional_db, tmp_path):
    """The chaos harness on this test run's database (its processes see committed data;
    the test's teardown empties the tables)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.chaos", "--calls", str(CALLS),
         "--connections", str(CONNECTIONS), "--read-timeout", str(READ_TIMEOUT),
         "--database-url", database.test_database_url(), "--output", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    result = json.loads((tmp_path / "chaos.json").read_text())
    calls = [json.loads(line) for line in (tmp_path / "chaos-calls.jsonl").open()]
    return completed.returncode, result, calls, output


@pytest.mark.faults
@pytest.mark.live
def test_every_chaos_call_has_exactly_one_record_with_its_faults_status(chaos_result):
    from models_api.usage.models import UsageRecord, UsageRollup

    returncode, result, calls, output = chaos_result
    assert returncode == 0, output[-5000:]
    faults = {fault.name: fault for fault in fault_table(READ_TIMEOUT)}
    chaos_calls = [call for call in calls if call["phase"] == "chaos"]
    assert len(chaos_calls) == CALLS
    # Every kind of fault was injected, plain and streamed where the fault allows both.
    assert {call["fault"] for call in chaos_calls} == set(faults)
    assert {call["stream"] for call in chaos_calls if call["fault"] == "provider 503"} == {
        True,
        False,
    }

    # Checked here against the database, not only by the harness's own verdict.
    records = {
        record.request_id: record
        for record in UsageRecord.objects.filter(workspace_id=result["workspace_id"])
    }
    assert len(records) == len(calls)
    request_ids = [call["request_id"] for call in calls]
    assert None not in request_ids
    assert len(set(request_ids)) == len(calls)
    assert set(request_ids) == set(records)
    for call in calls:
        fault, record = faults[call["fault"]], records[call["request_id"]]
        where = (call["index"], call["phase"], call["fault"], call["outcome"])
        assert call["outcome"] == fault.outcome, where
        assert (record.status_code, record.error_type) == (fault.status, fault.error_type), where
        assert record.tokens_estimated == fault.estimated, where
        if fault.status == 200:
            assert record.total_tokens > 0, where
        if fault.outcome == "ok":
            assert record.streamed == call["stream"], where
        if fault.outcome != "disconnected":
            assert call["status"] == record.status_code, where
    rollups = UsageRollup.objects.filter(workspace_id=result["workspace_id"])
    assert sum(rollup.requests for rollup in rollups) == len(calls)

    # The harness agrees, and read the gateway's resources before, during and after.
    assert all(check["passed"] for check in result["checks"]), result["checks"]
    resources = result["resources"]
    assert resources["during"]["samples"] > 0
    assert resources["before"]["fds"] > 0 and resources["after"]["fds"] > 0


# --- what the accounting relies on ------------------------------------------------------------


@pytest.mark.live
@pytest.mark.usefixtures("usage_written_before_teardown")
def test_the_fault_header_reaches_the_provider_and_picks_that_calls_failure(
    member_gateway_clients, fake_openai
):
    client, _ = member_gateway_clients
    fake_openai.configure(fail_next=[{"status": 500, "count": 1}])
    header = {"X-Fake-Fault": json.dumps({"status": 503})}
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="x", messages=HI, extra_headers=header)
    assert caught.value.status_code == 503
    # The queued failure was not taken by the call that picked its own.
    assert len(fake_openai.configure()["fail_next"]) == 1
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="x", messages=HI)
    assert caught.value.status_code == 500

    # A per-request option: this stream breaks off after five events, the next is whole.
    broken = {"X-Fake-Fault": json.dumps({"break_after_chunks": 5})}
    with pytest.raises(openai.APIError, match="broke off"):
        for _ in client.chat.completions.create(
            model="x", messages=HI, stream=True, extra_headers=broken
        ):
            pass
    whole = list(client.chat.completions.create(model="x", messages=HI, stream=True))
    assert "".join(chunk.choices[0].delta.content or "" for chunk in whole if chunk.choices)

    with pytest.raises(openai.BadRequestError, match="X-Fake-Fault"):
        client.chat.completions.create(model="x", messages=HI, extra_headers={"X-Fake-Fault": "[]"})
    first, second, third, fourth, fifth = wait_for_usage_records(5)
    assert (first.status_code, second.status_code, fifth.status_code) == (503, 500, 400)
    assert (third.status_code, third.error_type) == (200, "upstream_disconnected")
    assert (fourth.status_code, fourth.error_type) == (200, "")


@pytest.mark.live
@pytest.mark.usefixtures("usage_written_before_teardown")
def test_the_gateways_own_errors_name_their_usage_record(
    transactional_db, acme_model_api, member_key, openai_clients, gateway_url, fake_openai
):
    from blaxel_console.testing.servers import run_asgi_server

    with run_asgi_server(GATEWAY_READ_TIMEOUT="0.5", GATEWAY_MAX_BODY_BYTES="2000") as server:
        client, _ = openai_clients(server, member_key)
        slow = {"X-Fake-Fault": json.dumps({"response_delay": 3})}
        with pytest.raises(openai.InternalServerError) as timeout:
            client.chat.completions.create(model="x", messages=HI, extra_headers=slow)
        assert timeout.value.status_code == 504
        # A body sent in chunks, without a length: the caller is admitted, then the body
        # turns out too large.
        too_large = httpx.post(
            f"{gateway_url(server)}/chat/completions",
            headers={"Authorization": f"Bearer {member_key}"},
            content=iter([b'{"model": "x", "messages": "', b"word " * 1000, b'"}']),
        )
        assert too_large.status_code == 413
        answered = client.chat.completions.with_raw_response.create(model="x", messages=HI)
        first, second, third = wait_for_usage_records(3)
    assert (first.status_code, first.error_type) == (504, "upstream_timeout")
    assert timeout.value.response.headers["x-blaxel-request-id"] == first.request_id
    assert (second.status_code, second.error_type) == (413, "request_too_large")
    assert too_large.headers["x-blaxel-request-id"] == second.request_id
    assert answered.headers["x-blaxel-request-id"] == third.request_id


def test_valid_events_before_a_malformed_one_in_the_same_read_still_reach_the_caller():
    """The chaos run's invalid-SSE calls: whether the provider's valid first chunk and its
    malformed events share one read is up to the network; the caller gets the valid
    chunk either way (then the gateway's error event)."""
    from integrations.providers import UsageLocation
    from models_api.gateway.streaming import InvalidStream, SSEUsageReader

    valid = b'data: {"choices":[{"index":0,"delta":{"content":"Hello"}}]}\n\n'
    malformed = b"data: <html>502 Bad Gateway</html>\n\n"
    for pieces in ([valid, malformed], [valid + malformed]):
        reader = SSEUsageReader(UsageLocation(), strip_usage_chunk=False)
        relayed = b""
        with pytest.raises(InvalidStream) as caught:
            for piece in pieces:
                relayed += reader.feed(piece)
        assert relayed + caught.value.relayable == valid
        assert reader.text_deltas == 1


def test_a_pooled_connection_the_provider_closed_is_not_a_failed_call():
    """The chaos run's provider closes idle keep-alive connections (uvicorn, after 5 s);
    on a busy gateway one may be reused as it closes. The provider hung up without a
    byte of answer: the call is sent once more instead of failing with a 502."""
    import asyncio
    import re

    from blaxel_console.testing.waiting import run_async
    from integrations.outbound import GuardedTransport

    async def scenario():
        served_on: list[int] = []  # the connection each request arrived on

        async def provider(reader, writer):
            connection = max(served_on, default=0) + 1
            answered = 0
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    break
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                served_on.append(connection)
                if answered:  # a reused keep-alive connection: hang up without a word
                    break
                answered += 1
                body = b'{"object":"list","data":[]}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(provider, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"
        try:
            async with httpx.AsyncClient(transport=GuardedTransport()) as client:
                first = await client.post(url, content=b'{"model": "x"}')
                second = await client.post(url, content=b'{"model": "x"}')
        finally:
            server.close()
            await server.wait_closed()
        return first.status_code, second.status_code, served_on

    first, second, served_on = run_async(scenario)
    assert (first, second) == (200, 200)
    # The second call went out on the pooled connection, which hung up; then on a new one.
    assert served_on == [1, 1, 2]
