"""A local fake of the OpenAI API for tests, the offline demo and the benchmark.

It speaks OpenAI's wire format (JSON shapes, server-sent events, headers, error bodies) so
that the official SDKs and the gateway cannot tell it from api.openai.com, and it never
calls anything itself. It is a plain ASGI application (no framework, orjson, byte
templates built once per request) so that it is never the bottleneck of a benchmark.

Run it with::

    python -m integrations.fake_openai --host 127.0.0.1 --port 8100 \\
        [--keys sk-a,sk-b] [--no-record] [--config '{"chunk_count": 20}'] \\
        [--timeout-keep-alive 5]

Endpoints under ``/v1`` (``Authorization: Bearer <key>``, keys from ``--keys``, default
``sk-fake-valid-key``): ``GET /models``, ``GET /models/{id}``, ``POST /chat/completions``,
``POST /completions``, ``POST /embeddings``, ``POST /responses``, ``POST /moderations``.

Test controls under ``/_fake/`` (no auth, not part of OpenAI):

- ``POST /_fake/config`` sets the behaviour of the following requests and answers the
  whole configuration: ``chunk_count`` (content chunks per streamed answer and words of
  a plain one, default 20), ``chunk_delay`` (seconds between streamed chunks),
  ``first_chunk_delay`` (seconds between the response headers and the first chunk),
  ``response_delay`` (seconds before any byte, for timeout tests), ``fail_next`` (a list
  of faults for the next requests, each ``{"status": 429, "count": 1}`` or
  ``{"fault": "<kind>", "count": 1, ...options}``; optional ``path``, ``key`` to fail
  only matching requests; the kinds below),
  ``break_after_chunks`` (close the connection abruptly after that many streamed
  chunks), ``keys`` (accepted API keys), ``models`` (the catalog), ``strict_models``
  (unknown models answer 404 ``model_not_found``; off by default so any model name
  works), ``cached_prompt_tokens`` (prompt tokens reported as cached in
  ``prompt_tokens_details`` / ``input_tokens_details``, default 0),
  ``coalesce_streams`` (send an undelayed stream in one write rather than one write per
  event, as a real provider does) and ``record``.
- Fault kinds (``FAULT_KINDS``, one table; ``parse_failure`` validates an entry and
  ``FakeOpenAI.answer_with_fault`` runs it, for anything choosing faults per request):

  - ``status``: an HTTP error in OpenAI's shape (``status`` 400-599;
    ``message``/``type``/``code``/``param`` change the body; ``retry_after`` for 429).
  - ``reset_after_headers``: the status line and headers, then the connection closed.
  - ``reset_mid_stream``: a streamed answer cut after ``after_chunks`` events (default
    3), a plain one after half its body; the connection closed.
  - ``trickle``: the normal answer dribbled ``bytes`` bytes at a time (default 8),
    ``delay`` seconds apart (default 0.05).
  - ``invalid_json``: a plain 200 ``application/json`` whose body is cut mid-message.
  - ``invalid_sse``: a 200 event stream: a valid chunk, then malformed events, [DONE].
  - ``large_answer``: a chat completion of about ``size`` bytes of content (default 8
    MiB), plain or streamed as asked, in events of ``chunk_size`` bytes (default 64 KiB).
  - ``no_answer``: nothing at all (not even headers) for ``seconds`` (default 3600).
- ``X-Fake-Fault`` (a request header, a JSON object) picks this one request's fault
  instead of the ``fail_next`` queue: a ``fail_next`` entry of any kind above
  (``{"status": 503}``, ``{"fault": "trickle"}``; ``count``, ``path`` and ``key`` do
  not apply) and/or this request's own ``response_delay``, ``first_chunk_delay``,
  ``chunk_delay``, ``chunk_count`` or ``break_after_chunks``
  (``{"break_after_chunks": 5}``). Proxies forward it, so a load generator can mix
  faults call by call (bench/chaos.py); a malformed value answers 400.
- ``POST /_fake/reset`` restores the start-up behaviour and clears the request log.
- ``GET /_fake/config``, ``GET /_fake/requests`` (method, path, query, headers, parsed
  body, status, stream, completed, cancelled, timestamps; the last 10,000),
  ``GET /_fake/health``.

Token counts are deterministic: a prompt token is a whitespace-separated word of the
input text (an integer of a token list), and an answer of ``chunk_count`` words costs
``chunk_count`` completion tokens (fewer when ``max_tokens`` cuts it short).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import functools
import math
import os
import struct
import time
import zlib
from collections import deque
from dataclasses import dataclass, field, fields, replace

import orjson

DEFAULT_KEY = "sk-fake-valid-key"
DEFAULT_CHUNK_COUNT = 20
RECORD_LIMIT = 10_000
SYSTEM_FINGERPRINT = b"fp_fake0openai"

# (id, created, owned_by) as OpenAI lists them.
BUILTIN_MODELS: tuple[tuple[str, int, str], ...] = (
    ("gpt-4o", 1715367049, "system"),
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4.1", 1744316542, "system"),
    ("gpt-4.1-mini", 1744318173, "system"),
    ("gpt-4.1-nano", 1744321707, "system"),
    ("o3-mini", 1737146383, "system"),
    ("gpt-3.5-turbo", 1677610602, "openai"),
    ("gpt-3.5-turbo-instruct", 1692901427, "system"),
    ("text-embedding-3-small", 1705948997, "system"),
    ("text-embedding-3-large", 1705953180, "system"),
    ("text-embedding-ada-002", 1671217299, "openai-internal"),
    ("omni-moderation-latest", 1731689265, "system"),
)
EMBEDDING_DIMENSIONS = {"text-embedding-3-large": 3072}
DEFAULT_EMBEDDING_DIMENSIONS = 1536
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"
MAX_EMBEDDING_DIMENSIONS = 3072

# The answer: word i of an answer is ANSWER_WORDS[i % 20]; one word is one token/chunk.
ANSWER = (
    "Hello from the fake OpenAI server: this deterministic answer arrives in twenty "
    "pieces so that tests can count every one."
)
ANSWER_WORDS = ANSWER.split()
_PRECOMPUTED_PIECES = 1024


def _piece(index: int) -> str:
    word = ANSWER_WORDS[index % len(ANSWER_WORDS)]
    return word if index == 0 else " " + word


PIECES = [_piece(index) for index in range(_PRECOMPUTED_PIECES)]
PIECES_JSON = [orjson.dumps(piece) for piece in PIECES]


@functools.lru_cache(maxsize=256)
def answer_text(word_count: int) -> str:
    return "".join(piece_text(index) for index in range(word_count))


def piece_text(index: int) -> str:
    return PIECES[index] if index < _PRECOMPUTED_PIECES else _piece(index)


def piece_json(index: int) -> bytes:
    return PIECES_JSON[index] if index < _PRECOMPUTED_PIECES else orjson.dumps(_piece(index))


def chat_content_choice(index: int) -> bytes:
    """The `choices` entry of streamed chat chunk number `index`."""
    if index < _PRECOMPUTED_PIECES:
        return CHAT_CONTENT_CHOICES[index]
    return _chat_content_choice(piece_json(index))


def _chat_content_choice(content_json: bytes) -> bytes:
    return (
        b'{"index":0,"delta":{"content":' + content_json + b'},"logprobs":null,'
        b'"finish_reason":null}'
    )


CHAT_CONTENT_CHOICES = [_chat_content_choice(piece) for piece in PIECES_JSON]


# --- errors in OpenAI's shape ----------------------------------------------------------------


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None):
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )


def mask_key(key: str) -> str:
    """OpenAI's hint of a rejected key: the start, stars, and the end of long keys."""
    if len(key) >= 24:
        return key[:8] + "*" * (len(key) - 12) + key[-4:]
    return key[:6] + "*" * max(len(key) - 6, 0)


NO_KEY_ERROR = error_body(
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
    "field (i.e. username: API_KEY) when using HTTPS. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys.",
    "invalid_request_error",
)
INVALID_JSON_ERROR = error_body(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please "
    "contact us through our help center at help.openai.com.)",
    "invalid_request_error",
)
NO_MODEL_ERROR = error_body("you must provide a model parameter", "invalid_request_error")


def invalid_key_error(key: str) -> bytes:
    return error_body(
        f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        code="invalid_api_key",
    )


def missing_parameter_error(name: str) -> bytes:
    return error_body(
        f"Missing required parameter: '{name}'.",
        "invalid_request_error",
        param=name,
        code="missing_required_parameter",
    )


def invalid_value_error(name: str, message: str) -> bytes:
    return error_body(message, "invalid_request_error", param=name, code="invalid_value")


def model_not_found_error(model: str) -> bytes:
    return error_body(
        f"The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        param="model",
        code="model_not_found",
    )


def injected_error(status: int, failure: dict, model: str) -> bytes:
    """The body OpenAI sends with `status`, unless the failure entry overrides parts."""
    if status == 429:
        message = (
            f"Rate limit reached for {model or 'gpt-4o'} in organization org-fake on requests "
            "per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        )
        type_, code = "requests", "rate_limit_exceeded"
    elif status == 500:
        message = "The server had an error while processing your request. Sorry about that!"
        type_, code = "server_error", None
    elif status == 503:
        message = "The server is overloaded or not ready yet."
        type_, code = "server_error", None
    elif status >= 500:
        message = "Bad gateway." if status == 502 else "The server had an error."
        type_, code = "server_error", None
    elif status == 401:
        message, type_, code = "Incorrect API key provided.", "invalid_request_error", None
    elif status == 404:
        message = f"The model `{model}` does not exist or you do not have access to it."
        type_, code = "invalid_request_error", "model_not_found"
    else:
        message, type_, code = "Invalid request.", "invalid_request_error", None
    return error_body(
        failure.get("message") or message,
        failure.get("type") or type_,
        failure.get("param"),
        failure.get("code", code),
    )


# --- behaviour -------------------------------------------------------------------------------


@dataclass
class Behaviour:
    """What the fake does for the following requests (POST /_fake/config)."""

    chunk_count: int = DEFAULT_CHUNK_COUNT
    chunk_delay: float = 0.0
    first_chunk_delay: float = 0.0
    response_delay: float = 0.0
    fail_next: list = field(default_factory=list)
    break_after_chunks: int | None = None
    keys: list = field(default_factory=lambda: [DEFAULT_KEY])
    models: list = field(default_factory=lambda: [model for model, _, _ in BUILTIN_MODELS])
    strict_models: bool = False
    # Prompt tokens reported as read from the prompt cache (at most the prompt's).
    cached_prompt_tokens: int = 0
    # Same bytes in one write instead of one write per event (when nothing delays them):
    # fewer system calls for throughput runs, but a reader then sees one big chunk.
    coalesce_streams: bool = False
    record: bool = True

    def as_dict(self) -> dict:
        return {spec.name: getattr(self, spec.name) for spec in fields(self)}


class ConfigError(ValueError):
    pass


def _number(name: str, value, *, integer: bool = False, minimum: float = 0) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number")
    if integer and not float(value).is_integer():
        raise ConfigError(f"{name} must be an integer")
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}")
    return int(value) if integer else float(value)


def _failures(value) -> list:
    if not isinstance(value, list):
        raise ConfigError("fail_next must be a list of {status, count} or {fault, count}")
    return [parse_failure(entry) for entry in value]


# --- per-request faults (X-Fake-Fault) ----------------------------------------------------------

FAULT_HEADER = b"x-fake-fault"
# Behaviour options a request may set for itself; the rest of the header is a fail_next entry.
PER_REQUEST_OPTIONS = frozenset(
    {"chunk_count", "chunk_delay", "first_chunk_delay", "response_delay", "break_after_chunks"}
)


def request_fault(behaviour: Behaviour, value: bytes) -> tuple[Behaviour, dict | None]:
    """The behaviour and failure one request picked with its X-Fake-Fault header: a copy
    of `behaviour` with the request's own options, and the failure entry (`parse_failure`,
    run by `answer_with_fault` as `fail_next` entries are) or None."""
    try:
        options = orjson.loads(value)
    except orjson.JSONDecodeError:
        options = None
    if not isinstance(options, dict) or not options:
        raise ConfigError("must be a non-empty JSON object")
    own = {name: value for name, value in options.items() if name in PER_REQUEST_OPTIONS}
    entry = {name: value for name, value in options.items() if name not in PER_REQUEST_OPTIONS}
    if own:
        behaviour = replace(behaviour)
        apply_config(behaviour, own)
    failure = parse_failure(entry) if entry else None
    return behaviour, failure


def _string_list(name: str, value) -> list:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(f"{name} must be a list of non-empty strings")
    return list(value)


def apply_config(behaviour: Behaviour, options: dict) -> None:
    """Validate every option first, then apply them all (no half-applied config)."""
    if not isinstance(options, dict):
        raise ConfigError("the configuration must be a JSON object")
    known = {spec.name for spec in fields(Behaviour)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown options: {', '.join(unknown)}")
    changes = {}
    for name, value in options.items():
        if name in ("chunk_count",):
            changes[name] = _number(name, value, integer=True, minimum=1)
        elif name == "cached_prompt_tokens":
            changes[name] = _number(name, value, integer=True)
        elif name in ("chunk_delay", "first_chunk_delay", "response_delay"):
            changes[name] = _number(name, value)
        elif name == "break_after_chunks":
            changes[name] = None if value is None else _number(name, value, integer=True)
        elif name == "fail_next":
            changes[name] = _failures(value)
        elif name in ("keys", "models"):
            changes[name] = _string_list(name, value)
        elif not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false")
        else:
            changes[name] = value
    for name, value in changes.items():
        setattr(behaviour, name, value)


# --- token counting ----------------------------------------------------------------------------


def count_words(value) -> int:
    """Deterministic 'tokens' of any OpenAI input: words of strings, items of token lists,
    text of content parts."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, int) and not isinstance(value, bool):
        return 1
    if isinstance(value, list):
        return sum(count_words(item) for item in value)
    if isinstance(value, dict):
        total = 0
        for key in ("content", "text", "input"):
            if key in value:
                total += count_words(value[key])
        return total
    return 0


# --- embeddings: a fixed unit vector per dimension, rotated by a hash of the input ----------

_embedding_bases: dict[int, tuple[list, bytes]] = {}


def embedding_base(dimensions: int) -> tuple[list, bytes]:
    """(floats, float32 bytes), each the unit vector written twice so that any rotation
    is one slice. Floats are float32 round-trips so both encodings agree exactly."""
    base = _embedding_bases.get(dimensions)
    if base is None:
        raw = [math.sin(index * 0.731 + 1.0) for index in range(dimensions)]
        norm = math.sqrt(sum(value * value for value in raw))
        packed = struct.pack(f"<{dimensions}f", *(value / norm for value in raw))
        floats = list(struct.unpack(f"<{dimensions}f", packed))
        base = _embedding_bases[dimensions] = (floats * 2, packed * 2)
    return base


def embedding_for(text_or_tokens, dimensions: int, encoding: str):
    floats, packed = embedding_base(dimensions)
    offset = zlib.crc32(orjson.dumps(text_or_tokens)) % dimensions
    if encoding == "base64":
        return base64.b64encode(packed[offset * 4 : (offset + dimensions) * 4]).decode()
    return floats[offset : offset + dimensions]


# --- moderations -----------------------------------------------------------------------------

MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
    "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence", "violence/graphic",
)  # fmt: skip
# A word that makes the fake flag `violence`, so that flagged answers can be tested.
MODERATION_TRIGGER = "kill"


def moderation_result(text: str) -> dict:
    flagged = MODERATION_TRIGGER in text.lower()
    return {
        "flagged": flagged,
        "categories": {name: flagged and name == "violence" for name in MODERATION_CATEGORIES},
        "category_scores": {
            name: (0.91 if flagged and name == "violence" else 0.00001)
            for name in MODERATION_CATEGORIES
        },
        "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
    }


# --- ASGI plumbing -----------------------------------------------------------------------------

JSON_TYPE = b"application/json"
SSE_TYPE = b"text/event-stream; charset=utf-8"
STATIC_HEADERS = (
    (b"openai-version", b"2020-10-01"),
    (b"x-ratelimit-limit-requests", b"10000"),
    (b"x-ratelimit-limit-tokens", b"30000000"),
    (b"x-ratelimit-remaining-requests", b"9999"),
    (b"x-ratelimit-remaining-tokens", b"29999980"),
    (b"x-ratelimit-reset-requests", b"6ms"),
    (b"x-ratelimit-reset-tokens", b"0s"),
    (b"access-control-expose-headers", b"X-Request-ID"),
)
DONE_EVENT = b"data: [DONE]\n\n"


class StreamBroken(Exception):
    """Raised on purpose (break_after_chunks) so that the server drops the connection."""


def random_id(prefix: bytes) -> bytes:
    return prefix + os.urandom(15).hex().encode()


class Call:
    """One request in flight."""

    __slots__ = (
        "body",
        "key",
        "organization",
        "project",
        "receive",
        "record",
        "request_id",
        "send",
        "started",
        "watch",
    )

    def __init__(self, receive, send):
        self.receive = receive
        self.send = send
        self.started = time.perf_counter()
        self.request_id = random_id(b"req_")
        self.record = None
        self.watch = None
        self.body = None
        self.key = None
        self.organization = b"user-fake"
        self.project = None

    def headers(self, content_type: bytes, length: int | None, extra=()) -> list:
        elapsed = int((time.perf_counter() - self.started) * 1000)
        headers = [
            (b"content-type", content_type),
            (b"x-request-id", self.request_id),
            (b"openai-processing-ms", str(elapsed).encode()),
            (b"openai-organization", self.organization),
            *STATIC_HEADERS,
            *extra,
        ]
        if self.project:
            headers.append((b"openai-project", self.project))
        if length is not None:
            headers.append((b"content-length", str(length).encode()))
        return headers

    async def respond(self, status: int, body: bytes, extra=()) -> None:
        headers = self.headers(JSON_TYPE, len(body), extra)
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
        if self.record is not None:
            self.record["status"] = status
            self.record["completed"] = True
            self.record["finished_at"] = time.time()

    async def start_stream(self) -> None:
        headers = self.headers(SSE_TYPE, None)
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        if self.record is not None:
            self.record["status"] = 200

    async def chunk(self, data: bytes, *, first: bool = False) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})
        if first and self.record is not None:
            self.record["first_chunk_at"] = time.time()

    async def end_stream(self) -> None:
        await self.send({"type": "http.response.body", "body": b""})
        if self.record is not None:
            self.record["completed"] = True
            self.record["finished_at"] = time.time()

    async def pause(self, seconds: float) -> bool:
        """Wait `seconds`; True when the client went away meanwhile (then the call is over
        and recorded as cancelled)."""
        if seconds <= 0:
            return False
        if self.watch is None:
            # The body is read already: the next message can only be http.disconnect.
            self.watch = asyncio.ensure_future(self.receive())
        done, _ = await asyncio.wait((self.watch,), timeout=seconds)
        if done:
            if self.record is not None:
                self.record["cancelled"] = True
                self.record["finished_at"] = time.time()
            return True
        return False

    def close(self) -> None:
        if self.watch is not None and not self.watch.done():
            self.watch.cancel()


# --- fault kinds -----------------------------------------------------------------------------
#
# What a `fail_next` entry can name as its `fault` (an entry with only a `status` is the
# `status` kind). One table, FAULT_KINDS, so that anything choosing a fault per request
# validates it with `parse_failure` and runs it with `FakeOpenAI.answer_with_fault`.


class ClientGone(Exception):
    """The client went away while the fake was still answering (nothing more to send)."""


@dataclass(frozen=True)
class FaultOption:
    default: float | int
    integer: bool = False
    minimum: float = 0


@dataclass(frozen=True)
class FaultKind:
    """`apply(fake, call, behaviour, failure, answer)`: `answer()` sends the normal answer
    (a kind that changes only how it travels wraps `call.send` and calls it)."""

    name: str
    summary: str
    apply: object
    options: dict = field(default_factory=dict)


def _wants_stream(call: Call) -> bool:
    return isinstance(call.body, dict) and call.body.get("stream") is True


def _model_of(call: Call) -> str:
    model = call.body.get("model") if isinstance(call.body, dict) else None
    return model if isinstance(model, str) and model else "gpt-4o-mini"


async def _fault_status(fake, call: Call, behaviour, failure: dict, answer) -> None:
    status = failure["status"]
    extra = ()
    if status == 429:
        retry_after = failure.get("retry_after", 1)
        extra = ((b"retry-after", f"{retry_after:g}".encode()),)
    await call.respond(status, injected_error(status, failure, _model_of(call)), extra)


async def _fault_reset_after_headers(fake, call: Call, behaviour, failure: dict, answer) -> None:
    send = call.send

    async def headers_only(message):
        if message["type"] == "http.response.body":
            raise StreamBroken  # the status line and headers are out; the body never comes
        await send(message)

    call.send = headers_only
    await answer()


async def _fault_reset_mid_stream(fake, call: Call, behaviour, failure: dict, answer) -> None:
    send = call.send
    limit = failure["after_chunks"]
    sent = 0

    async def part_of_it(message):
        nonlocal sent
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            if not message.get("more_body"):
                if sent == 0 and body:  # a plain answer: half of it
                    half = {"type": "http.response.body", "body": body[: len(body) // 2]}
                    await send({**half, "more_body": True})
                raise StreamBroken
            if sent >= limit:
                raise StreamBroken
            sent += 1
        await send(message)

    call.send = part_of_it
    await answer()


async def _fault_trickle(fake, call: Call, behaviour, failure: dict, answer) -> None:
    send = call.send
    size, delay = failure["bytes"], failure["delay"]
    first = True

    async def dribble(message):
        nonlocal first
        body = message.get("body", b"")
        if message["type"] != "http.response.body" or not body:
            await send(message)
            return
        more = message.get("more_body", False)
        for start in range(0, len(body), size):
            if not first and await call.pause(delay):
                raise ClientGone
            first = False
            end = start + size
            piece = {"type": "http.response.body", "body": body[start:end]}
            await send({**piece, "more_body": more or end < len(body)})

    call.send = dribble
    await answer()


async def _fault_invalid_json(fake, call: Call, behaviour, failure: dict, answer) -> None:
    # A 200 whose body stops in the middle of the message (well framed, broken JSON).
    body = (
        b'{"id":"' + random_id(b"chatcmpl-") + b'","object":"chat.completion","model":'
        + orjson.dumps(_model_of(call)) + b',"choices":[{"index":0,"message":{"role":'
        b'"assistant","content":"Hello from the fake OpenAI'
    )  # fmt: skip
    await call.respond(200, body)


# Each malformed in its own way: data that is cut JSON, a line with no field name, and
# data that is not JSON at all. A valid first chunk comes before them.
INVALID_SSE_EVENTS = (
    b'data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"index":0,'
    b'"delta":{"content":"Hel\n\n',
    b"this line has no field name\n\n",
    b"data: <html>not json</html>\n\n",
)


async def _fault_invalid_sse(fake, call: Call, behaviour, failure: dict, answer) -> None:
    head = (
        b'data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","created":0,'
        b'"model":' + orjson.dumps(_model_of(call)) + b',"choices":['
    )
    first = head + b'{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}'
    await call.start_stream()
    await call.chunk(first + b"\n\n", first=True)
    for event in INVALID_SSE_EVENTS:
        await call.chunk(event)
    await call.chunk(DONE_EVENT)
    await call.end_stream()


LARGE_WORD = "lorem "


async def _fault_large_answer(fake, call: Call, behaviour, failure: dict, answer) -> None:
    """A chat completion of about `size` bytes of content (a word is a token)."""
    size, chunk_size = failure["size"], failure["chunk_size"]
    model = _model_of(call)
    prompt_tokens = count_words(call.body.get("messages")) if isinstance(call.body, dict) else 0
    words_per_chunk = max(chunk_size // len(LARGE_WORD), 1)
    chunks = max(math.ceil(size / (words_per_chunk * len(LARGE_WORD))), 1)
    words = chunks * words_per_chunk
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": words,
        "total_tokens": prompt_tokens + words,
    }
    completion_id = random_id(b"chatcmpl-")
    if not _wants_stream(call):
        message = {"role": "assistant", "content": LARGE_WORD * words, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "length"}
        completion = {
            "id": completion_id.decode(),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": usage,
        }
        await call.respond(200, orjson.dumps(completion))
        return
    head = (
        b'data: {"id":"' + completion_id + b'","object":"chat.completion.chunk","created":'
        + str(int(time.time())).encode() + b',"model":' + orjson.dumps(model) + b',"choices":['
    )  # fmt: skip
    piece = orjson.dumps(LARGE_WORD * words_per_chunk)
    content = head + b'{"index":0,"delta":{"content":' + piece + b'},"finish_reason":null}]}\n\n'
    await call.start_stream()
    for index in range(chunks):
        if index and await call.pause(behaviour.chunk_delay):
            return
        await call.chunk(content, first=index == 0)
    await call.chunk(head + b'{"index":0,"delta":{},"finish_reason":"length"}]}\n\n')
    if FakeOpenAI._include_usage(call.body):
        await call.chunk(head + b'],"usage":' + orjson.dumps(usage) + b"}\n\n")
    await call.chunk(DONE_EVENT)
    await call.end_stream()


async def _fault_no_answer(fake, call: Call, behaviour, failure: dict, answer) -> None:
    if not await call.pause(failure["seconds"]):
        raise StreamBroken  # still connected after all that time: hang up


FAULT_KINDS = {
    kind.name: kind
    for kind in (
        FaultKind(
            "status",
            "an HTTP error in OpenAI's shape (`status` 400-599; `message`, `type`, `code`, "
            "`param` change the body; `retry_after` for 429, default 1)",
            _fault_status,
        ),
        FaultKind(
            "reset_after_headers",
            "the status line and headers, then the connection closed (no body)",
            _fault_reset_after_headers,
        ),
        FaultKind(
            "reset_mid_stream",
            "a streamed answer cut after `after_chunks` events (default 3), a plain one "
            "after half its body; the connection closed",
            _fault_reset_mid_stream,
            {"after_chunks": FaultOption(3, integer=True)},
        ),
        FaultKind(
            "trickle",
            "the normal answer dribbled `bytes` bytes at a time (default 8), `delay` "
            "seconds apart (default 0.05)",
            _fault_trickle,
            {"bytes": FaultOption(8, integer=True, minimum=1), "delay": FaultOption(0.05)},
        ),
        FaultKind(
            "invalid_json",
            "a plain 200 `application/json` whose body is cut mid-message",
            _fault_invalid_json,
        ),
        FaultKind(
            "invalid_sse",
            "a 200 event stream: one valid chunk, then malformed events (INVALID_SSE_EVENTS) "
            "and [DONE]",
            _fault_invalid_sse,
        ),
        FaultKind(
            "large_answer",
            "a chat completion of about `size` bytes of content (default 8 MiB), plain or "
            "streamed as the request asks, in events of `chunk_size` bytes (default 64 KiB); "
            "usage counts a word as a token",
            _fault_large_answer,
            {
                "size": FaultOption(8 * 1024 * 1024, integer=True, minimum=1),
                "chunk_size": FaultOption(64 * 1024, integer=True, minimum=16),
            },
        ),
        FaultKind(
            "no_answer",
            "nothing at all (not even headers) for `seconds` (default 3600), then the "
            "connection closed",
            _fault_no_answer,
            {"seconds": FaultOption(3600.0)},
        ),
    )
}
# What selects a request: not options of the fault itself.
FAILURE_FILTERS = ("count", "path", "key")


def parse_failure(entry) -> dict:
    """A validated `fail_next` entry: `fault` (a FAULT_KINDS name; "status" when only a
    status is given), `count` (default 1), the kind's options with their defaults, and
    the optional `path` / `key` filters. Raises ConfigError."""
    if not isinstance(entry, dict):
        raise ConfigError("each fail_next entry must be an object")
    name = entry.get("fault", "status")
    kind = FAULT_KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ConfigError(f"unknown fault {name!r}; known: {', '.join(FAULT_KINDS)}")
    failure = {**entry, "fault": name}
    failure["count"] = _number("fail_next.count", entry.get("count", 1), integer=True, minimum=1)
    if name == "status":
        if "status" not in entry:
            raise ConfigError("each fail_next entry needs a status or a fault")
        status = _number("fail_next.status", entry["status"], integer=True, minimum=400)
        if status > 599:
            raise ConfigError("fail_next.status must be an HTTP error status (400-599)")
        failure["status"] = status
        if "retry_after" in entry:
            failure["retry_after"] = _number("fail_next.retry_after", entry["retry_after"])
        return failure
    unknown = set(entry) - {"fault", *FAILURE_FILTERS, *kind.options}
    if unknown:
        raise ConfigError(f"unknown options of fault {name}: {', '.join(sorted(unknown))}")
    for option, spec in kind.options.items():
        value = entry.get(option, spec.default)
        failure[option] = _number(
            f"fail_next.{option}", value, integer=spec.integer, minimum=spec.minimum
        )
    return failure


class FakeOpenAI:
    """The ASGI application. State lives in the process: run one worker."""

    def __init__(
        self, *, keys: list[str] | None = None, record: bool = True, config: dict | None = None
    ):
        # What reset() returns to: the command line's keys, record flag and --config.
        self.initial = {"keys": list(keys or [DEFAULT_KEY]), "record": record, **(config or {})}
        apply_config(Behaviour(), self.initial)  # fail at start-up, not at the first reset
        self.requests: deque = deque(maxlen=RECORD_LIMIT)
        self.behaviour = Behaviour()
        self.reset()
        self.routes = {
            ("GET", "/v1/models"): self.list_models,
            ("POST", "/v1/chat/completions"): self.chat_completions,
            ("POST", "/v1/completions"): self.completions,
            ("POST", "/v1/embeddings"): self.embeddings,
            ("POST", "/v1/responses"): self.responses,
            ("POST", "/v1/moderations"): self.moderations,
        }

    def reset(self) -> None:
        self.behaviour = Behaviour()
        apply_config(self.behaviour, copy.deepcopy(self.initial))
        self.requests.clear()
        self._refresh_models()

    def _refresh_models(self) -> None:
        known = {model: (created, owner) for model, created, owner in BUILTIN_MODELS}
        self.model_objects = {}
        for model in self.behaviour.models:
            created, owner = known.get(model, (1700000000, "system"))
            self.model_objects[model] = {
                "id": model,
                "object": "model",
                "created": created,
                "owned_by": owner,
            }
        self.models_body = orjson.dumps(
            {"object": "list", "data": list(self.model_objects.values())}
        )
        self.keys = frozenset(self.behaviour.keys)

    # --- entry point ---------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        call = Call(receive, send)
        try:
            if path.startswith("/_fake/"):
                await self._control(scope["method"], path, body, call)
            else:
                await self._openai(scope, path, body, call)
        except ClientGone:
            pass  # recorded as cancelled; uvicorn knows the connection is gone
        finally:
            call.close()

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _openai(self, scope, path: str, body: bytes, call: Call) -> None:
        method = scope["method"]
        fault = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credential = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    call.key = credential.strip()
            elif name == b"openai-organization":
                call.organization = value
            elif name == b"openai-project":
                call.project = value
            elif name == FAULT_HEADER:
                fault = value
        behaviour = self.behaviour
        try:
            call.body = orjson.loads(body) if body else None
            body_is_json = True
        except orjson.JSONDecodeError:
            body_is_json = False
        if behaviour.record:
            call.record = self._record(scope, call)

        handler = self.routes.get((method, path))
        model_id = None
        if handler is None and method == "GET" and path.startswith("/v1/models/"):
            handler, model_id = self.retrieve_model, path[len("/v1/models/") :]
        if handler is None:
            message = f"Invalid URL ({method} {path})"
            await call.respond(404, error_body(message, "invalid_request_error"))
            return
        if not call.key:
            await call.respond(401, NO_KEY_ERROR)
            return
        if call.key not in self.keys:
            await call.respond(401, invalid_key_error(call.key))
            return
        failure = None
        if fault is not None:
            try:
                behaviour, failure = request_fault(behaviour, fault)
            except ConfigError as error:
                message = f"X-Fake-Fault: {error}"
                await call.respond(400, error_body(message, "invalid_request_error"))
                return
        if await call.pause(behaviour.response_delay):
            return
        if failure is None:
            failure = self._take_failure(path, call.key)

        async def answer() -> None:
            await self._answer(call, behaviour, method, path, handler, model_id, body_is_json)

        if failure is not None:
            await self.answer_with_fault(call, behaviour, failure, answer)
        else:
            await answer()

    async def answer_with_fault(self, call: Call, behaviour: Behaviour, failure: dict, answer):
        """Answer `call` with the fault `failure` (a `parse_failure` entry); `answer()`
        sends the normal answer, for the kinds that change how it travels."""
        await FAULT_KINDS[failure["fault"]].apply(self, call, behaviour, failure, answer)

    async def _answer(self, call, behaviour, method, path, handler, model_id, body_is_json):
        if method == "POST":
            if not body_is_json:
                await call.respond(400, INVALID_JSON_ERROR)
                return
            if call.body is None:
                await call.respond(400, NO_MODEL_ERROR)
                return
            if not isinstance(call.body, dict):
                message = "Invalid type for request body: expected an object."
                await call.respond(400, error_body(message, "invalid_request_error"))
                return
            model = call.body.get("model")
            if path == "/v1/moderations" and model is None:
                model = DEFAULT_MODERATION_MODEL  # the one optional model parameter
            if not model or not isinstance(model, str):
                await call.respond(400, NO_MODEL_ERROR)
                return
            if behaviour.strict_models and model not in self.model_objects:
                await call.respond(404, model_not_found_error(model))
                return
            await handler(call, behaviour)
        elif model_id is not None:
            await handler(call, model_id)
        else:
            await handler(call)

    def _record(self, scope, call: Call) -> dict:
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        body = call.body
        record = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode("latin-1"),
            "headers": headers,
            "body": body,
            "stream": bool(isinstance(body, dict) and body.get("stream")),
            "status": None,
            "completed": False,
            "cancelled": False,
            "received_at": time.time(),
            "first_chunk_at": None,
            "finished_at": None,
        }
        self.requests.append(record)
        return record

    def _take_failure(self, path: str, key: str) -> dict | None:
        failures = self.behaviour.fail_next
        for index, failure in enumerate(failures):
            if failure.get("path") not in (None, path) or failure.get("key") not in (None, key):
                continue
            failure["count"] -= 1
            if failure["count"] <= 0:
                del failures[index]
            return failure
        return None

    # --- /_fake/ controls ----------------------------------------------------------------

    async def _control(self, method: str, path: str, body: bytes, call: Call) -> None:
        if path == "/_fake/health" and method == "GET":
            await call.respond(200, b'{"status":"ok"}')
        elif path == "/_fake/requests" and method == "GET":
            await call.respond(200, orjson.dumps(list(self.requests)))
        elif path == "/_fake/reset" and method == "POST":
            self.reset()
            await call.respond(200, orjson.dumps(self.behaviour.as_dict()))
        elif path == "/_fake/config" and method == "GET":
            await call.respond(200, orjson.dumps(self.behaviour.as_dict()))
        elif path == "/_fake/config" and method == "POST":
            try:
                apply_config(self.behaviour, orjson.loads(body or b"{}"))
            except (orjson.JSONDecodeError, ConfigError) as error:
                await call.respond(400, error_body(str(error), "invalid_request_error"))
                return
            self._refresh_models()
            await call.respond(200, orjson.dumps(self.behaviour.as_dict()))
        else:
            message = f"Invalid URL ({method} {path})"
            await call.respond(404, error_body(message, "invalid_request_error"))

    # --- models --------------------------------------------------------------------------

    async def list_models(self, call: Call) -> None:
        await call.respond(200, self.models_body)

    async def retrieve_model(self, call: Call, model_id: str) -> None:
        model = self.model_objects.get(model_id)
        if model is None:
            await call.respond(404, model_not_found_error(model_id))
        else:
            await call.respond(200, orjson.dumps(model))

    # --- text generation -----------------------------------------------------------------

    @staticmethod
    def _answer_length(request: dict, behaviour: Behaviour) -> tuple[int, str]:
        """How many words to answer, and why the answer stops."""
        limit = request.get("max_completion_tokens") or request.get("max_tokens")
        if (
            isinstance(limit, int)
            and not isinstance(limit, bool)
            and 0 < limit < behaviour.chunk_count
        ):
            return limit, "length"
        return behaviour.chunk_count, "stop"

    @staticmethod
    def _include_usage(request: dict) -> bool:
        options = request.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    async def _stream(self, call: Call, behaviour: Behaviour, events) -> None:
        """Send SSE `events` (an iterable of bytes) with the configured delays."""
        await call.start_stream()
        if await call.pause(behaviour.first_chunk_delay):
            return
        broken_after = behaviour.break_after_chunks
        if behaviour.coalesce_streams and not behaviour.chunk_delay and broken_after is None:
            await call.chunk(b"".join(events), first=True)
            await call.end_stream()
            return
        delay = behaviour.chunk_delay
        for index, event in enumerate(events):
            if index and await call.pause(delay):
                return
            if broken_after is not None and index >= broken_after:
                raise StreamBroken
            await call.chunk(event, first=index == 0)
        await call.end_stream()

    async def chat_completions(self, call: Call, behaviour: Behaviour) -> None:
        request = call.body
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            await call.respond(400, missing_parameter_error("messages"))
            return
        words, finish_reason = self._answer_length(request, behaviour)
        prompt_tokens = count_words(messages)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": words,
            "total_tokens": prompt_tokens + words,
            "prompt_tokens_details": {
                "cached_tokens": min(behaviour.cached_prompt_tokens, prompt_tokens),
                "audio_tokens": 0,
            },
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        completion_id = random_id(b"chatcmpl-").decode()
        created = int(time.time())
        model = request["model"]
        if not request.get("stream"):
            message = {
                "role": "assistant",
                "content": answer_text(words),
                "refusal": None,
                "annotations": [],
            }
            completion = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": SYSTEM_FINGERPRINT.decode(),
            }
            await call.respond(200, orjson.dumps(completion))
            return

        include_usage = self._include_usage(request)
        head = b"".join(
            (
                b'data: {"id":"',
                completion_id.encode(),
                b'","object":"chat.completion.chunk","created":',
                str(created).encode(),
                b',"model":',
                orjson.dumps(model),
                b',"service_tier":"default","system_fingerprint":"',
                SYSTEM_FINGERPRINT,
                b'","choices":[',
            )
        )
        # With include_usage OpenAI sends `"usage":null` on every chunk but the last.
        tail = b'],"usage":null}\n\n' if include_usage else b"]}\n\n"

        def events():
            yield (
                head + b'{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
                b'"logprobs":null,"finish_reason":null}' + tail
            )
            for index in range(words):
                yield head + chat_content_choice(index) + tail
            yield (
                head + b'{"index":0,"delta":{},"logprobs":null,"finish_reason":"'
                + finish_reason.encode() + b'"}' + tail
            )  # fmt: skip
            if include_usage:
                yield head + b'],"usage":' + orjson.dumps(usage) + b"}\n\n"
            yield DONE_EVENT

        await self._stream(call, behaviour, events())

    async def completions(self, call: Call, behaviour: Behaviour) -> None:
        request = call.body
        if "prompt" not in request:
            await call.respond(400, missing_parameter_error("prompt"))
            return
        words, finish_reason = self._answer_length(request, behaviour)
        prompt_tokens = count_words(request["prompt"])
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": words,
            "total_tokens": prompt_tokens + words,
        }
        completion_id = random_id(b"cmpl-").decode()
        created = int(time.time())
        model = request["model"]
        if not request.get("stream"):
            completion = {
                "id": completion_id,
                "object": "text_completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "text": answer_text(words),
                        "index": 0,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": usage,
                "system_fingerprint": SYSTEM_FINGERPRINT.decode(),
            }
            await call.respond(200, orjson.dumps(completion))
            return

        include_usage = self._include_usage(request)
        head = b"".join(
            (
                b'data: {"id":"',
                completion_id.encode(),
                b'","object":"text_completion","created":',
                str(created).encode(),
                b',"choices":[',
            )
        )
        tail = b'],"model":' + orjson.dumps(model) + b',"system_fingerprint":"'
        tail += SYSTEM_FINGERPRINT + (b'","usage":null}\n\n' if include_usage else b'"}\n\n')

        def events():
            for index in range(words):
                yield (
                    head + b'{"text":' + piece_json(index) + b',"index":0,"logprobs":null,'
                    b'"finish_reason":null}' + tail
                )
            yield (
                head + b'{"text":"","index":0,"logprobs":null,"finish_reason":"'
                + finish_reason.encode() + b'"}' + tail
            )  # fmt: skip
            if include_usage:
                yield (
                    head + b'],"model":' + orjson.dumps(model) + b',"system_fingerprint":"'
                    + SYSTEM_FINGERPRINT + b'","usage":' + orjson.dumps(usage) + b"}\n\n"
                )  # fmt: skip
            yield DONE_EVENT

        await self._stream(call, behaviour, events())

    async def responses(self, call: Call, behaviour: Behaviour) -> None:
        request = call.body
        limit = request.get("max_output_tokens")
        words, finish_reason = self._answer_length({"max_tokens": limit}, behaviour)
        input_tokens = count_words(request.get("input")) + count_words(request.get("instructions"))
        usage = {
            "input_tokens": input_tokens,
            "input_tokens_details": {
                "cached_tokens": min(behaviour.cached_prompt_tokens, input_tokens),
                "cache_write_tokens": 0,
            },
            "output_tokens": words,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + words,
        }
        response_id = random_id(b"resp_").decode()
        item_id = random_id(b"msg_").decode()
        created = int(time.time())
        text = answer_text(words)
        incomplete = finish_reason == "length"

        def response(status: str, output: list, usage_value) -> dict:
            return {
                "id": response_id,
                "object": "response",
                "created_at": created,
                "status": status,
                "background": False,
                "error": None,
                "incomplete_details": {"reason": "max_output_tokens"}
                if incomplete and status == "incomplete"
                else None,
                "instructions": request.get("instructions"),
                "max_output_tokens": limit,
                "max_tool_calls": None,
                "model": request["model"],
                "output": output,
                "parallel_tool_calls": True,
                "previous_response_id": request.get("previous_response_id"),
                "reasoning": {"effort": None, "summary": None},
                "service_tier": "default",
                "store": request.get("store", True),
                "temperature": request.get("temperature", 1.0),
                "text": {"format": {"type": "text"}, "verbosity": "medium"},
                "tool_choice": "auto",
                "tools": [],
                "top_logprobs": 0,
                "top_p": request.get("top_p", 1.0),
                "truncation": "disabled",
                "usage": usage_value,
                "user": None,
                "metadata": request.get("metadata") or {},
            }

        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        item_status = "incomplete" if incomplete else "completed"
        item = {
            "id": item_id,
            "type": "message",
            "status": item_status,
            "content": [part],
            "role": "assistant",
        }
        final_status = "incomplete" if incomplete else "completed"
        if not request.get("stream"):
            await call.respond(200, orjson.dumps(response(final_status, [item], usage)))
            return

        def event(sequence: int, type_: str, payload: dict) -> bytes:
            data = orjson.dumps({"type": type_, "sequence_number": sequence, **payload})
            return b"event: " + type_.encode() + b"\ndata: " + data + b"\n\n"

        def events():
            started = response("in_progress", [], None)
            yield event(0, "response.created", {"response": started})
            yield event(1, "response.in_progress", {"response": started})
            empty_item = {**item, "status": "in_progress", "content": []}
            yield event(2, "response.output_item.added", {"output_index": 0, "item": empty_item})
            yield event(
                3,
                "response.content_part.added",
                {
                    "item_id": item_id,
                    "output_index": 0,
                    "content_index": 0,
                    "part": {**part, "text": ""},
                },
            )
            delta_head = (
                b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
                b'"item_id":"' + item_id.encode() + b'","output_index":0,"content_index":0,'
                b'"logprobs":[],"delta":'
            )
            for index in range(words):
                yield (
                    delta_head + piece_json(index) + b',"sequence_number":'
                    + str(4 + index).encode() + b"}\n\n"
                )  # fmt: skip
            sequence = 4 + words
            position = {"item_id": item_id, "output_index": 0, "content_index": 0}
            yield event(
                sequence,
                "response.output_text.done",
                {**position, "text": text, "logprobs": []},
            )
            yield event(sequence + 1, "response.content_part.done", {**position, "part": part})
            yield event(
                sequence + 2, "response.output_item.done", {"output_index": 0, "item": item}
            )
            finished = response(final_status, [item], usage)
            final_type = "response.incomplete" if incomplete else "response.completed"
            yield event(sequence + 3, final_type, {"response": finished})

        await self._stream(call, behaviour, events())

    # --- embeddings and moderations ------------------------------------------------------

    async def embeddings(self, call: Call, behaviour: Behaviour) -> None:
        request = call.body
        if "input" not in request:
            await call.respond(400, missing_parameter_error("input"))
            return
        raw_input = request["input"]
        # A single string or a single token list is one input; a list of them is many.
        if isinstance(raw_input, str) or (
            isinstance(raw_input, list)
            and raw_input
            and all(isinstance(item, int) for item in raw_input)
        ):
            inputs = [raw_input]
        elif isinstance(raw_input, list) and raw_input:
            inputs = raw_input
        else:
            message = "'$.input' is invalid. Please check the API reference."
            await call.respond(400, invalid_value_error("input", message))
            return
        model = request["model"]
        dimensions = request.get("dimensions")
        if dimensions is None:
            dimensions = EMBEDDING_DIMENSIONS.get(model, DEFAULT_EMBEDDING_DIMENSIONS)
        if (
            not isinstance(dimensions, int)
            or isinstance(dimensions, bool)
            or not 1 <= dimensions <= MAX_EMBEDDING_DIMENSIONS
        ):
            message = f"Invalid value for 'dimensions': must be 1 to {MAX_EMBEDDING_DIMENSIONS}."
            await call.respond(400, invalid_value_error("dimensions", message))
            return
        encoding = request.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            message = "Invalid value for 'encoding_format': expected 'float' or 'base64'."
            await call.respond(400, invalid_value_error("encoding_format", message))
            return
        tokens = count_words(inputs)
        payload = {
            "object": "list",
            "data": [
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": embedding_for(item, dimensions, encoding),
                }
                for index, item in enumerate(inputs)
            ],
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        await call.respond(200, orjson.dumps(payload))

    async def moderations(self, call: Call, behaviour: Behaviour) -> None:
        request = call.body
        raw_input = request.get("input")
        if raw_input is None:
            await call.respond(400, missing_parameter_error("input"))
            return
        if isinstance(raw_input, list) and any(isinstance(item, dict) for item in raw_input):
            # Multi-modal parts (text + images) are moderated together as one input.
            texts = [
                " ".join(str(item.get("text", "")) for item in raw_input if isinstance(item, dict))
            ]
        elif isinstance(raw_input, list):
            texts = [str(item) for item in raw_input]
        else:
            texts = [str(raw_input)]
        payload = {
            "id": random_id(b"modr-").decode(),
            "model": request.get("model") or DEFAULT_MODERATION_MODEL,
            "results": [moderation_result(text) for text in texts],
        }
        await call.respond(200, orjson.dumps(payload))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m integrations.fake_openai",
        description="A local fake of the OpenAI API (tests, demo, benchmark).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--keys", default=DEFAULT_KEY, help="comma-separated API keys to accept")
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="keep no request log (for long benchmark runs)",
    )
    parser.add_argument(
        "--config",
        type=orjson.loads,
        default=None,
        help="initial behaviour as JSON, e.g. '{\"chunk_count\": 20}' (kept across resets)",
    )
    parser.add_argument(
        "--timeout-keep-alive",
        type=float,
        default=5.0,
        help="seconds an idle keep-alive connection stays open (then the fake closes it)",
    )
    parser.add_argument("--log-level", default="warning")
    options = parser.parse_args(argv)

    import uvicorn

    keys = [key.strip() for key in options.keys.split(",") if key.strip()]
    try:
        application = FakeOpenAI(keys=keys, record=not options.no_record, config=options.config)
    except ConfigError as error:
        parser.error(f"--config: {error}")
    uvicorn.run(
        application,
        host=options.host,
        port=options.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        server_header=False,
        timeout_keep_alive=options.timeout_keep_alive,
        log_level=options.log_level,
    )


if __name__ == "__main__":
    main()
