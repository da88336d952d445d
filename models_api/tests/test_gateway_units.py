"""The gateway's pure parts: body preparation, header filtering, usage extraction from
plain and streamed answers, and the versioned in-process cache."""

import httpx
import orjson
import pytest

from blaxel_console.testing.waiting import run_async
from integrations.providers import UsageLocation
from models_api.gateway import errors, streaming
from models_api.gateway.caches import VersionedCache
from models_api.gateway.streaming import InvalidStream, SSEUsageReader, usage_from_body
from models_api.gateway.upstream import forward_headers, headers_for_client, prepare_body

USAGE = UsageLocation()
INCLUDE_USAGE = {"include_usage": True}


def prepare(body, path="v1/chat/completions", model="gpt-4o-mini"):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return prepare_body(raw, model=model, path=path, usage_request=INCLUDE_USAGE)


# --- the body -------------------------------------------------------------------------------


def test_body_naming_the_configured_model_passes_byte_for_byte():
    raw = b'{"model": "gpt-4o-mini",   "messages": [{"role": "user", "content": "hi"}]}'
    prepared = prepare(raw)
    assert prepared.content is raw
    assert not prepared.stream and not prepared.strip_usage_chunk


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "gpt-4o", "messages": []}',
        b'{"messages": []}',
        # Two `model` keys: a provider may read the first, orjson keeps the last.
        b'{"model": "o3", "messages": [], "model": "gpt-4o-mini"}',
        # An escaped spelling of the key.
        b'{"mod\\u0065l": "o3", "messages": [], "model": "gpt-4o-mini"}',
    ],
)
def test_the_configured_model_is_forced(raw):
    sent = orjson.loads(prepare(raw).content)
    assert sent["model"] == "gpt-4o-mini"
    assert list(sent).count("model") == 1


def test_streamed_chat_asks_for_usage_and_hides_it_when_the_caller_did_not():
    prepared = prepare({"model": "gpt-4o-mini", "messages": [], "stream": True})
    assert prepared.stream and prepared.strip_usage_chunk
    assert orjson.loads(prepared.content)["stream_options"] == {"include_usage": True}

    kept_options = prepare(
        {"model": "m", "stream": True, "stream_options": {"include_obfuscation": False}}
    )
    assert orjson.loads(kept_options.content)["stream_options"] == {
        "include_obfuscation": False,
        "include_usage": True,
    }

    asked = prepare(
        {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}}
    )
    assert not asked.strip_usage_chunk

    responses = prepare({"model": "gpt-4o-mini", "stream": True}, path="v1/responses")
    assert "stream_options" not in orjson.loads(responses.content)
    assert not responses.strip_usage_chunk


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"', b"{"])
def test_a_body_that_is_not_a_json_object_is_refused(raw):
    with pytest.raises(errors.GatewayError) as caught:
        prepare(raw)
    assert caught.value.status == 400


# --- headers ----------------------------------------------------------------------------------


def test_caller_credentials_and_hop_by_hop_headers_are_dropped():
    incoming = [
        (b"authorization", b"Bearer bl_caller"),
        (b"x-blaxel-authorization", b"Bearer bl_caller"),
        (b"x-blaxel-workspace", b"acme"),
        (b"cookie", b"sessionid=s"),
        (b"x-csrftoken", b"t"),
        (b"host", b"console"),
        (b"content-length", b"12"),
        (b"connection", b"keep-alive, x-private-hop"),
        (b"x-private-hop", b"1"),
        (b"keep-alive", b"timeout=5"),
        (b"transfer-encoding", b"chunked"),
        (b"te", b"trailers"),
        (b"upgrade", b"h2c"),
        (b"proxy-authorization", b"Basic x"),
        (b"x-forwarded-for", b"10.0.0.1"),
        (b"openai-organization", b"org-caller"),
        (b"content-type", b"application/json"),
        (b"user-agent", b"OpenAI/Python"),
        (b"x-stainless-lang", b"python"),
    ]
    forwarded = forward_headers(incoming, frozenset({b"authorization", b"openai-organization"}))
    assert forwarded == [
        (b"content-type", b"application/json"),
        (b"user-agent", b"OpenAI/Python"),
        (b"x-stainless-lang", b"python"),
    ]


def test_only_useful_provider_headers_come_back():
    response = httpx.Response(
        200,
        headers=[
            ("Content-Type", "application/json"),
            ("x-request-id", "req_1"),
            ("x-ratelimit-remaining-tokens", "10"),
            ("openai-processing-ms", "3"),
            ("retry-after", "2"),
            ("set-cookie", "__cf_bm=x"),
            ("content-length", "10"),
            ("server", "cloudflare"),
            ("content-encoding", "gzip"),
        ],
    )
    assert headers_for_client(response) == {
        "content-type": "application/json",
        "x-request-id": "req_1",
        "x-ratelimit-remaining-tokens": "10",
        "openai-processing-ms": "3",
        "retry-after": "2",
    }


# --- usage of plain answers ----------------------------------------------------------------------


def test_usage_of_a_plain_answer():
    body = orjson.dumps(
        {
            "choices": [{"message": {"content": 'a "usage": {"prompt_tokens": 99} lookalike'}}],
            "usage": {
                "prompt_tokens": 7,
                "completion_tokens": 3,
                "total_tokens": 10,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
            "metadata": {"usage": "a string, not the object"},
        }
    )
    tokens = usage_from_body(body, USAGE)
    assert (tokens.input, tokens.output, tokens.total) == (7, 3, 10)


def test_usage_of_a_responses_answer_and_of_embeddings():
    responses = orjson.dumps({"output": [], "usage": {"input_tokens": 5, "output_tokens": 2}})
    tokens = usage_from_body(responses, USAGE)
    assert (tokens.input, tokens.output, tokens.total) == (5, 2, 7)
    embeddings = orjson.dumps(
        {"data": [{"embedding": [0.1] * 1000}], "usage": {"prompt_tokens": 4, "total_tokens": 4}}
    )
    tokens = usage_from_body(embeddings, USAGE)
    assert (tokens.input, tokens.output, tokens.total) == (4, 0, 4)


def test_no_usage_in_an_answer():
    assert usage_from_body(b'{"object": "list", "data": []}', USAGE) is None
    assert usage_from_body(b'{"usage": null}', USAGE) is None


# --- usage of streamed answers -------------------------------------------------------------


def chat_chunk(content):
    return b"data: " + orjson.dumps({"choices": [{"delta": {"content": content}}]}) + b"\n\n"


USAGE_CHUNK = (
    b'data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}\n\n'
)
STREAM = chat_chunk("Hel") + chat_chunk("lo") + USAGE_CHUNK + b"data: [DONE]\n\n"


def relay(reader, stream, size):
    pieces = [stream[index : index + size] for index in range(0, len(stream), size)]
    return b"".join(reader.feed(piece) for piece in pieces) + reader.finish()


@pytest.mark.parametrize("size", [1, 7, 50, len(STREAM)])
def test_stream_passes_untouched_when_the_caller_asked_for_usage(size):
    reader = SSEUsageReader(USAGE, strip_usage_chunk=False)
    assert relay(reader, STREAM, size) == STREAM
    assert (reader.tokens.input, reader.tokens.output, reader.tokens.total) == (4, 2, 6)


@pytest.mark.parametrize("size", [1, 7, 50, len(STREAM)])
def test_usage_chunk_is_removed_when_the_gateway_asked_for_it(size):
    reader = SSEUsageReader(USAGE, strip_usage_chunk=True)
    assert relay(reader, STREAM, size) == STREAM.replace(USAGE_CHUNK, b"")
    assert reader.tokens.total == 6


@pytest.mark.parametrize("strip", [True, False])
def test_complete_events_are_relayed_at_once_and_a_cut_one_held(strip):
    reader = SSEUsageReader(USAGE, strip_usage_chunk=strip)
    assert reader.feed(chat_chunk("Hel") + b'data: {"cho') == chat_chunk("Hel")
    assert reader.feed(b'ices": []}') == b""
    assert reader.feed(b"\n") == b""
    assert reader.feed(b'\ndata: {"choi') == b'data: {"choices": []}\n\n'


@pytest.mark.parametrize(
    "malformed",
    [
        b'data: {"choices": [{"delta": {"content": "Hel\n\n',  # cut JSON
        b"data: <html>502 Bad Gateway</html>\n\n",  # a proxy's page
        b'event: message\ndata: {"a": 1\n\n',
    ],
)
@pytest.mark.parametrize("strip", [True, False])
def test_a_malformed_event_ends_the_relay(malformed, strip):
    reader = SSEUsageReader(USAGE, strip_usage_chunk=strip)
    assert reader.feed(chat_chunk("Hel")) == chat_chunk("Hel")
    with pytest.raises(InvalidStream):
        reader.feed(malformed + chat_chunk("lo"))


def test_comments_multi_line_data_and_done_are_events():
    reader = SSEUsageReader(USAGE, strip_usage_chunk=False)
    stream = b': keep-alive\n\ndata: {"a":\ndata: 1}\n\nevent: ping\n\ndata: [DONE]\n\n'
    assert relay(reader, stream, 5) == stream


def test_an_event_without_end_is_refused_past_the_limit(monkeypatch):
    monkeypatch.setattr(streaming, "MAX_EVENT_BYTES", 1000)
    reader = SSEUsageReader(USAGE, strip_usage_chunk=False)
    reader.feed(b'data: {"content": "' + b"x" * 900)
    with pytest.raises(InvalidStream, match="longer than 1000"):
        reader.feed(b"x" * 200)


def test_usage_of_a_responses_stream_with_crlf_events():
    completed = orjson.dumps(
        {
            "type": "response.completed",
            "response": {"usage": {"input_tokens": 3, "output_tokens": 9, "total_tokens": 12}},
        }
    )
    stream = (
        b'event: response.created\r\ndata: {"type":"response.created","response":{"usage":null}}'
        b"\r\n\r\nevent: response.completed\r\ndata: " + completed + b"\r\n\r\n"
    )
    reader = SSEUsageReader(USAGE, strip_usage_chunk=False)
    assert relay(reader, stream, 11) == stream
    assert (reader.tokens.input, reader.tokens.output, reader.tokens.total) == (3, 9, 12)


def test_a_last_event_without_its_blank_line_still_counts():
    reader = SSEUsageReader(USAGE, strip_usage_chunk=False)
    stream = chat_chunk("x") + USAGE_CHUNK.rstrip(b"\n")
    assert relay(reader, stream, 9) == stream
    assert reader.tokens.total == 6


# --- the versioned cache ------------------------------------------------------------------------


def test_cache_serves_copies_until_the_version_changes(settings):
    from blaxel_console import cache_versions

    settings.GATEWAY_LOCAL_CACHE_TTL = 0.0
    cache = VersionedCache("test-namespace")
    loads = []

    def load():
        loads.append(1)
        return "value"

    async def get():
        return await cache.get("key", load)

    assert run_async(get) == "value"
    assert run_async(get) == "value"
    assert len(loads) == 1
    cache_versions.bump("test-namespace")
    assert run_async(get) == "value"
    assert len(loads) == 2


def test_cache_keeps_not_found_only_briefly(settings, monkeypatch):
    from models_api.gateway import caches

    settings.GATEWAY_LOCAL_CACHE_TTL = 5.0
    cache = VersionedCache("test-namespace-2")
    clock = [1000.0]
    monkeypatch.setattr(caches.time, "monotonic", lambda: clock[0])
    values = {"missing": None, "found": "here"}
    loads = []

    def loader(name):
        def load():
            loads.append(name)
            return values[name]

        return load

    async def get(name):
        return await cache.get(name, loader(name))

    assert run_async(get, "missing") is None
    assert run_async(get, "found") == "here"
    clock[0] += 6  # past the TTL, within MAX_AGE
    run_async(get, "missing")
    run_async(get, "found")
    assert loads == ["missing", "found", "missing"]
    clock[0] += caches.MAX_AGE
    run_async(get, "found")
    assert loads[-1] == "found"


def test_a_load_that_raced_an_invalidation_is_not_kept(settings):
    settings.GATEWAY_LOCAL_CACHE_TTL = 60.0
    cache = VersionedCache("test-namespace-3")

    def stale_load():
        # An invalidation lands while this (old) answer is being read.
        cache.clear()
        return "stale"

    async def scenario():
        first = await cache.get("key", stale_load)
        second = await cache.get("key", lambda: "fresh")
        return first, second

    assert run_async(scenario) == ("stale", "fresh")


def test_cache_is_bounded():
    cache = VersionedCache("test-namespace-4", max_entries=3)
    for index in range(5):
        cache._store(index, index, 0.0)
    assert list(cache._entries) == [2, 3, 4]
