"""The SSRF guard: private, loopback and link-local targets are refused unless the
deployment allows them, judged on every resolved address, at save time and at call time."""

import asyncio
import socket
from unittest import mock

import httpx
import pytest
from django.core.exceptions import ValidationError

from blaxel_console.testing.waiting import run_async as run
from integrations import services, ssrf
from integrations.outbound import GuardedTransport
from integrations.ssrf import UnsafeUpstreamError, acheck_base_url, acheck_upstream, check_base_url

REFUSED = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://10.0.0.1/v1",
    "http://192.168.1.10:8000/v1",
    "http://172.16.0.5/v1",
    "http://127.0.0.1:8000/v1",
    "http://localhost:8000/v1",  # a host name resolving to 127.0.0.1
    "http://[::1]:8000/v1",
    "http://[::ffff:127.0.0.1]/v1",  # IPv4 loopback written as IPv6
    "http://[fe80::1]/v1",
    "http://0.0.0.0:8000/v1",
    "http://2130706433/v1",  # 127.0.0.1 as one decimal number
    "http://100.64.0.1/v1",  # carrier-grade NAT
    "http://224.0.0.1/v1",  # multicast
]


@pytest.fixture(autouse=True)
def nothing_allowed(settings):
    settings.UPSTREAM_ALLOWED_HOSTS = []
    ssrf.clear_call_time_cache()
    yield
    ssrf.clear_call_time_cache()


@pytest.fixture
def fake_dns(monkeypatch):
    """Resolve chosen host names to chosen addresses (no network in tests)."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (ip, port))
                for ip in answers[host]
            ]  # fmt: skip
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize("url", REFUSED)
def test_private_targets_are_refused(url):
    with pytest.raises(UnsafeUpstreamError, match="private, loopback or link-local"):
        check_base_url(url)


@pytest.mark.parametrize("url", REFUSED[:7])
def test_async_check_refuses_too(url):
    with pytest.raises(UnsafeUpstreamError):
        run(acheck_base_url(url))


def test_public_addresses_pass(fake_dns):
    fake_dns["api.example.com"] = ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    check_base_url("https://api.example.com/v1")
    check_base_url("http://8.8.8.8/v1")


def test_every_resolved_address_is_checked(fake_dns):
    # One public and one private answer (DNS rebinding style): refused.
    fake_dns["mixed.example.com"] = ["93.184.215.14", "10.1.2.3"]
    with pytest.raises(UnsafeUpstreamError, match=r"10\.1\.2\.3"):
        check_base_url("https://mixed.example.com/v1")


def test_a_public_name_pointing_inside_is_refused(fake_dns):
    fake_dns["internal.example.com"] = ["169.254.169.254"]
    with pytest.raises(UnsafeUpstreamError):
        check_base_url("http://internal.example.com/")


def test_unresolvable_host_is_refused(fake_dns):
    with pytest.raises(UnsafeUpstreamError, match="could not be resolved"):
        check_base_url("http://no-such-host.invalid/v1")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http:///v1", "no host"),
        ("http://user:pass@example.com/", "user name or password"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
def test_malformed_urls(url, message):
    with pytest.raises(UnsafeUpstreamError, match=message):
        check_base_url(url)


@pytest.mark.parametrize(
    ("allowed", "url"),
    [
        (["localhost"], "http://localhost:8000/v1"),
        (["127.0.0.1"], "http://localhost:8000/v1"),  # allowed by address, reached by name
        (["10.0.0.0/8"], "http://10.0.0.1/v1"),
        (["169.254.169.254"], "http://169.254.169.254/"),
        (["::1"], "http://[::1]:8000/v1"),
        (["VLLM.internal."], "http://vllm.internal:8000/v1"),  # names: case, trailing dot
    ],
)
def test_allowed_hosts(settings, allowed, url, fake_dns):
    fake_dns["vllm.internal"] = ["10.9.9.9"]
    settings.UPSTREAM_ALLOWED_HOSTS = allowed
    check_base_url(url)


def test_allowing_one_range_does_not_allow_another(settings):
    settings.UPSTREAM_ALLOWED_HOSTS = ["10.0.0.0/8"]
    with pytest.raises(UnsafeUpstreamError):
        check_base_url("http://192.168.0.1/")


def test_call_time_check_caches_its_verdict(fake_dns):
    fake_dns["flip.example.com"] = ["93.184.215.14"]
    run(acheck_upstream("https://flip.example.com/v1"))
    fake_dns["flip.example.com"] = ["10.0.0.1"]
    run(acheck_upstream("https://flip.example.com/v1"))  # still the cached verdict
    ssrf.clear_call_time_cache()
    with pytest.raises(UnsafeUpstreamError):
        run(acheck_upstream("https://flip.example.com/v1"))
    with pytest.raises(UnsafeUpstreamError):  # a refusal is cached as well
        run(acheck_upstream("https://flip.example.com/v1"))


def test_a_host_rebound_after_the_check_is_refused_where_the_gateway_connects(settings, fake_dns):
    """DNS rebinding: the call-time check saw a public address (and remembers it), then
    the name points at a loopback service. The gateway's HTTP client judges the address
    it connects to, so the service is never reached — unless the deployment allows it."""
    connections = []

    async def scenario(url):
        async def answer(reader, writer):
            connections.append(1)
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        target = url.format(port=port)
        fake_dns["rebind.example.com"] = ["93.184.215.14"]
        await acheck_upstream(target)  # passes, and the verdict is cached
        fake_dns["rebind.example.com"] = ["127.0.0.1"]  # the answer changes
        await acheck_upstream(target)  # still the cached verdict
        try:
            async with httpx.AsyncClient(transport=GuardedTransport()) as client:
                return (await client.get(target)).text
        except httpx.ConnectError as error:
            return error
        finally:
            server.close()

    refused = run(scenario("http://rebind.example.com:{port}/v1/models"))
    assert isinstance(refused, httpx.ConnectError)
    assert connections == []

    settings.UPSTREAM_ALLOWED_HOSTS = ["rebind.example.com"]
    assert run(scenario("http://rebind.example.com:{port}/v1/models")) == "ok"
    assert connections == [1]


@pytest.mark.django_db
def test_a_host_rebound_after_saving_is_refused_where_the_catalog_connects(
    make_connection, settings, fake_dns
):
    """The catalog, key and deploy checks fetch through the same guarded client as the
    gateway: the address judged is the address connected to."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from integrations.catalog import ProviderUnreachable, fetch_live_models

    reached = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            reached.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fake_dns["rebind.example.com"] = ["93.184.215.14"]
        settings.UPSTREAM_ALLOWED_HOSTS = []
        connection = make_connection(
            key="sk-test-rebinding", base_url=f"http://rebind.example.com:{server.server_port}/v1"
        )
        settings.UPSTREAM_ALLOWED_HOSTS = []
        fake_dns["rebind.example.com"] = ["127.0.0.1"]  # the answer changes after saving
        # As if the answer changed right after the catalog's own check.
        skipped_check = mock.patch("integrations.catalog.check_upstream")
        with skipped_check, pytest.raises(ProviderUnreachable):
            fetch_live_models(connection)
    finally:
        server.shutdown()
        server.server_close()
    assert reached == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://10.0.0.1/", "http://localhost/"]
)
def test_saving_a_connection_refuses_private_targets(workspace, actor, url):
    with pytest.raises(ValidationError) as caught:
        services.integration_connection_create(
            workspace=workspace,
            name="evil",
            integration="openai",
            config={"baseUrl": url},
            secret={"apiKey": "sk-proj-0123456789abcdef"},
            actor=actor,
        )
    assert "private, loopback or link-local" in caught.value.message_dict["baseUrl"][0]


@pytest.mark.django_db
def test_saving_allows_what_the_deployment_allows(workspace, actor, settings):
    settings.UPSTREAM_ALLOWED_HOSTS = ["localhost"]
    connection = services.integration_connection_create(
        workspace=workspace,
        name="local",
        integration="openai",
        config={"baseUrl": "http://localhost:11434/v1"},
        secret={"apiKey": "sk-proj-0123456789abcdef"},
        actor=actor,
    )
    assert connection.config["baseUrl"] == "http://localhost:11434/v1"


@pytest.mark.django_db
def test_default_provider_url_needs_no_resolution(workspace, actor, monkeypatch):
    # No baseUrl: the registry's https://api.openai.com/v1 is trusted (no DNS at save).
    def no_dns(*args, **kwargs):
        raise AssertionError("resolved a host")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    connection = services.integration_connection_create(
        workspace=workspace,
        name="default",
        integration="openai",
        config={},
        secret={"apiKey": "sk-proj-0123456789abcdef"},
        actor=actor,
    )
    assert connection.base_url == "https://api.openai.com/v1"
