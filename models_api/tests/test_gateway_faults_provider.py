"""Provider-side faults through a live gateway (uvicorn, short connect and read timeouts)
and the fake OpenAI server's fault kinds, called with the official SDK (raw httpx where
the SDK hides the wire).

For every fault: the client gets the right OpenAI-shaped error or a clean end of stream;
exactly one usage record is written, with the right status and error; and the gateway
process is back to its baseline afterwards — no more open fds or TCP connections (read
from /proc), no call in flight and no provider connection in use (its own gauges on
/metrics), no more event-loop tasks.
"""

import socket
from dataclasses import dataclass

import httpx
import openai
import pytest

from blaxel_console.testing.fake_provider import FakeOpenAIServer
from blaxel_console.testing.resources import pid_of_server, rss_bytes, snapshot, wait_until_back
from blaxel_console.testing.servers import free_port, run_asgi_server
from blaxel_console.testing.usage import wait_for_usage_records
from blaxel_console.testing.waiting import wait_until
from models_api.usage.models import UsageRecord

pytestmark = [
    pytest.mark.faults,
    pytest.mark.live,
    pytest.mark.usefixtures("usage_written_before_teardown"),
]

CONNECT_TIMEOUT = 1.0
READ_TIMEOUT = 2.0
METRICS_TOKEN = "faults-scrape-token"
MESSAGES = [{"role": "user", "content": "Say hello to the fault suite"}]


@dataclass
class LiveGateway:
    url: str
    pid: int
    key: str

    def client(self, model_api="my-gpt", **options) -> openai.OpenAI:
        options.setdefault("timeout", 30)
        return openai.OpenAI(
            base_url=f"{self.url}/run/acme/models/{model_api}/v1",
            api_key=self.key,
            max_retries=0,
            **options,
        )

    def gauges(self) -> dict[str, float]:
        """The gateway's own gauges, as an operator's scrape reads them."""
        text = httpx.get(
            f"{self.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        ).text
        values = {}
        for line in text.splitlines():
            if line.startswith("blaxel_gateway_") and 'pid="' in line:
                name, value = line.rsplit(" ", 1)
                key = name.split("{")[0]
                if 'state="' in name:
                    key += "." + name.split('state="')[1].split('"')[0]
                values[key] = float(value)
        return values

    def warm_up(self):
        """Two ordinary calls (plain and streamed) bring every pool up; then the
        baseline: the process's resources and gauges."""
        with self.client() as client:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            list(client.chat.completions.create(model="x", messages=MESSAGES, stream=True))
        wait_for_usage_records(2)
        UsageRecord.objects.all().delete()
        wait_until(lambda: self.gauges()["blaxel_gateway_calls_in_flight"] == 0)
        return snapshot(self.pid), self.gauges()

    def assert_back_to(self, baseline) -> None:
        resources, gauges = baseline
        wait_until_back(self.pid, resources)
        wait_until(lambda: self.gauges()["blaxel_gateway_calls_in_flight"] == 0)
        now = self.gauges()
        assert now["blaxel_gateway_upstream_connections.active"] == 0
        assert now["blaxel_gateway_event_loop_tasks"] <= gauges["blaxel_gateway_event_loop_tasks"]


@pytest.fixture
def gateway(transactional_db, acme_model_api, member_key):
    with run_asgi_server(
        GATEWAY_CONNECT_TIMEOUT=CONNECT_TIMEOUT,
        GATEWAY_READ_TIMEOUT=READ_TIMEOUT,
        METRICS_TOKEN=METRICS_TOKEN,
    ) as url:
        yield LiveGateway(url=url, pid=pid_of_server(url), key=member_key)


@pytest.fixture
def baseline(gateway):
    return gateway.warm_up()


def one_record(**expected) -> UsageRecord:
    """The one usage record of the faulty call, checked against `expected` fields."""
    (record,) = wait_for_usage_records(1)
    for field, value in expected.items():
        assert getattr(record, field) == value, field
    return record


def assert_gateway_error(caught, status: int, code: str) -> None:
    """An error the gateway made, in OpenAI's shape, as the SDK raised it."""
    assert caught.value.status_code == status
    assert caught.value.code == code
    assert caught.value.body["type"] == "upstream_error"
    assert caught.value.body["message"]


def assert_still_one_record() -> None:
    # Checked again once the process settled: nothing wrote a second one meanwhile.
    assert UsageRecord.objects.count() == 1


def test_connection_refused_is_502(gateway, baseline, workspace, make_gateway_model_api):
    closed = f"http://127.0.0.1:{free_port()}/v1"
    make_gateway_model_api(workspace, "closed", connections=[("closed", closed, "sk-x")])
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client("closed").chat.completions.create(model="x", messages=MESSAGES)
    assert_gateway_error(caught, 502, "upstream_unreachable")
    one_record(status_code=502, error_type="upstream_unreachable", connection_name="")
    gateway.assert_back_to(baseline)
    assert_still_one_record()


@pytest.fixture
def blackhole():
    """A loopback port whose SYNs are dropped: a listener with a full accept queue (the
    kernel drops a SYN it has no room for), the local stand-in for an address that
    never answers (and one the SSRF guard lets the suite reach)."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(listener.getsockname())
        fillers.append(filler)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    for filler in fillers:
        filler.close()
    listener.close()


def test_connect_timeout_is_504(gateway, baseline, workspace, make_gateway_model_api, blackhole):
    make_gateway_model_api(workspace, "hole", connections=[("hole", blackhole, "sk-x")])
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client("hole").chat.completions.create(model="x", messages=MESSAGES)
    assert_gateway_error(caught, 504, "upstream_timeout")
    one_record(status_code=504, error_type="upstream_timeout")
    gateway.assert_back_to(baseline)


def test_no_answer_before_the_read_timeout_is_504(gateway, baseline, fake_openai):
    fake_openai.configure(fail_next=[{"fault": "no_answer"}])
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client().chat.completions.create(model="x", messages=MESSAGES)
    assert_gateway_error(caught, 504, "upstream_timeout")
    one_record(status_code=504, error_type="upstream_timeout")
    # The gateway hung up on the provider: the fake saw its client go away.
    wait_until(lambda: fake_openai.requests()[-1]["cancelled"])
    gateway.assert_back_to(baseline)
    assert_still_one_record()


def test_reset_after_headers_plain_is_502_and_streamed_ends_with_an_error(
    gateway, baseline, fake_openai
):
    fake_openai.configure(fail_next=[{"fault": "reset_after_headers", "count": 2}])
    client = gateway.client()
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="x", messages=MESSAGES)
    assert_gateway_error(caught, 502, "upstream_disconnected")
    with pytest.raises(openai.APIError, match="broke off") as caught:
        list(client.chat.completions.create(model="x", messages=MESSAGES, stream=True))
    assert caught.value.body["code"] == "upstream_disconnected"
    client.close()
    plain, streamed = wait_for_usage_records(2)
    assert (plain.status_code, plain.error_type) == (502, "upstream_disconnected")
    assert (streamed.status_code, streamed.error_type) == (200, "upstream_disconnected")
    assert streamed.streamed and streamed.tokens_estimated and streamed.output_tokens == 0
    gateway.assert_back_to(baseline)


def test_reset_mid_stream_ends_the_stream_with_an_error(gateway, baseline, fake_openai):
    fake_openai.configure(fail_next=[{"fault": "reset_mid_stream", "after_chunks": 4}])
    received = []
    with pytest.raises(openai.APIError, match="broke off"):
        for chunk in gateway.client().chat.completions.create(
            model="x", messages=MESSAGES, stream=True
        ):
            received.append(chunk.choices[0].delta.content)
    # The role chunk, then three words.
    assert received == ["", "Hello", " from", " the"]
    record = one_record(status_code=200, error_type="upstream_disconnected", streamed=True)
    # One token per text delta relayed, the role chunk's empty one included (estimates).
    assert record.tokens_estimated and record.output_tokens == 4 and record.input_tokens > 0
    gateway.assert_back_to(baseline)


def test_reset_mid_answer_of_a_plain_answer_is_502(gateway, baseline, fake_openai):
    fake_openai.configure(fail_next=[{"fault": "reset_mid_stream"}])
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client().chat.completions.create(model="x", messages=MESSAGES)
    assert_gateway_error(caught, 502, "upstream_disconnected")
    one_record(status_code=502, error_type="upstream_disconnected")
    gateway.assert_back_to(baseline)


def test_a_trickling_provider_is_slow_but_works(gateway, baseline, fake_openai):
    # Each piece comes well within the read timeout, the whole answer takes longer.
    fake_openai.configure(fail_next=[{"fault": "trickle", "bytes": 48, "delay": 0.01}])
    client = gateway.client()
    answer = client.chat.completions.create(model="x", messages=MESSAGES)
    assert answer.usage.completion_tokens == 20
    fake_openai.configure(fail_next=[{"fault": "trickle", "bytes": 96, "delay": 0.01}])
    words = [
        chunk.choices[0].delta.content
        for chunk in client.chat.completions.create(model="x", messages=MESSAGES, stream=True)
        if chunk.choices
    ]
    assert "".join(filter(None, words)) == answer.choices[0].message.content
    client.close()
    plain, streamed = wait_for_usage_records(2)
    assert (plain.status_code, plain.error_type, plain.output_tokens) == (200, "", 20)
    assert (streamed.status_code, streamed.error_type, streamed.output_tokens) == (200, "", 20)
    assert not streamed.tokens_estimated
    gateway.assert_back_to(baseline)


def test_invalid_json_is_502(gateway, baseline, fake_openai):
    fake_openai.configure(fail_next=[{"fault": "invalid_json"}])
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client().chat.completions.create(model="x", messages=MESSAGES)
    assert_gateway_error(caught, 502, "upstream_invalid_response")
    one_record(status_code=502, error_type="upstream_invalid_response")
    gateway.assert_back_to(baseline)


def test_invalid_sse_ends_the_stream_with_an_error(gateway, baseline, fake_openai):
    fake_openai.configure(fail_next=[{"fault": "invalid_sse"}])
    received = []
    with pytest.raises(openai.APIError, match="could not be read") as caught:
        for chunk in gateway.client().chat.completions.create(
            model="x", messages=MESSAGES, stream=True
        ):
            received.append(chunk.choices[0].delta.role)
    assert received == ["assistant"]  # the valid first chunk, then the error
    assert caught.value.body["code"] == "upstream_invalid_response"
    one_record(status_code=200, error_type="upstream_invalid_response", streamed=True)
    gateway.assert_back_to(baseline)


def test_a_providers_429_is_relayed_with_its_retry_after(gateway, baseline, fake_openai):
    fake_openai.configure(fail_next=[{"status": 429, "retry_after": 7}])
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.client().chat.completions.create(model="x", messages=MESSAGES)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.body["type"] == "requests"
    assert caught.value.response.headers["retry-after"] == "7"
    one_record(status_code=429, error_type="rate_limit_exceeded")
    gateway.assert_back_to(baseline)


LARGE = 24 * 1024 * 1024


def test_a_multi_megabyte_plain_answer(gateway, baseline, fake_openai):
    fake_openai.configure(fail_next=[{"fault": "large_answer", "size": LARGE}])
    answer = gateway.client().chat.completions.create(model="x", messages=MESSAGES)
    assert len(answer.choices[0].message.content) >= LARGE
    record = one_record(status_code=200, error_type="")
    assert record.output_tokens == answer.usage.completion_tokens > LARGE // 8
    gateway.assert_back_to(baseline)


def test_a_multi_megabyte_stream_keeps_the_gateways_memory_bounded(gateway, baseline, fake_openai):
    size = 4 * LARGE
    fake_openai.configure(fail_next=[{"fault": "large_answer", "size": size}])
    start = rss_bytes(gateway.pid)
    peak = start
    received = 0
    body = {"model": "x", "messages": MESSAGES, "stream": True}
    headers = {"Authorization": f"Bearer {gateway.key}"}
    with (
        httpx.Client(timeout=30) as http,
        http.stream(
            "POST",
            f"{gateway.url}/run/acme/models/my-gpt/v1/chat/completions",
            json=body,
            headers=headers,
        ) as response,
    ):
        assert response.status_code == 200
        sampled = 0
        for part in response.iter_raw():
            received += len(part)
            if received - sampled > 1024 * 1024:  # a sample a megabyte
                sampled = received
                peak = max(peak, rss_bytes(gateway.pid))
        assert part.endswith(b"data: [DONE]\n\n")
    assert received > size
    # The answer went through; the gateway held a small part of it at any time.
    assert peak - start < size // 8, f"RSS grew by {peak - start} bytes for {size}"
    record = one_record(status_code=200, error_type="", streamed=True)
    assert not record.tokens_estimated and record.output_tokens > size // 8
    gateway.assert_back_to(baseline)


@pytest.fixture
def impatient_fake():
    """A second fake that closes idle keep-alive connections after half a second (the
    gateway keeps its pooled connections for 30 s)."""
    server = FakeOpenAIServer(free_port(), timeout_keep_alive=0.5)
    server.start()
    yield server
    server.stop()


def test_a_pooled_connection_the_provider_closed_is_not_reused(
    gateway, baseline, workspace, make_gateway_model_api, impatient_fake
):
    make_gateway_model_api(
        workspace, "brief", connections=[("brief", impatient_fake.base_url, impatient_fake.key)]
    )
    client = gateway.client("brief")
    client.chat.completions.create(model="x", messages=MESSAGES)
    port = impatient_fake.port
    assert snapshot(gateway.pid).tcp(remote_port=port) == 1  # pooled
    # The fake closes it; the gateway closes its end too (nothing left half-closed).
    wait_until(lambda: snapshot(gateway.pid).tcp(remote_port=port) == 0)
    answer = client.chat.completions.create(model="x", messages=MESSAGES)
    assert answer.usage.completion_tokens == 20
    client.close()
    first, second = wait_for_usage_records(2)
    assert (first.status_code, second.status_code) == (200, 200)
    assert len(impatient_fake.requests("/v1/chat/completions")) == 2
    gateway.assert_back_to(baseline)
