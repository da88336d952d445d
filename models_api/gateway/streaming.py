"""Token usage out of provider answers, and the server-sent-event relay.

Plain answers: the `usage` object is found from the end of the body and only that
object is parsed (an embeddings answer can be megabytes of floats).

Streamed answers: complete events go to the caller as they arrive (an event cut in two
by the network is held until its end arrives, which never delays a usable byte). Each
event is checked for its shape, cheaply: its data is `[DONE]` or framed as JSON (starts
with `{` or `[`, ends with `}` or `]`) — a cut event or an HTML error page from a proxy
in the middle of a stream would otherwise reach the caller's SDK as a parse error; the
relay ends the stream with an error event instead (`InvalidStream`). An event larger
than `MAX_EVENT_BYTES` is refused the same way, so a stream never makes the gateway hold
more than that. Only an event carrying a `"usage": {…}` object is parsed (a chat
stream's last chunk when `stream_options.include_usage` is set; the Responses API's
`response.completed`); when the gateway asked for that chunk on the caller's behalf, it
is removed from what the caller sees.
"""

import re
from dataclasses import dataclass

import orjson

from integrations.providers import UsageLocation

from .estimates import text_deltas

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
MAX_EVENT_BYTES = 8 * 1024 * 1024


class InvalidStream(Exception):
    """The provider sent something that is not a server-sent event of its API.
    `relayable`: the whole, valid events that came before it in the same read, which the
    caller still gets (whether they share a read with the bad one is up to the network)."""

    def __init__(self, message: str, relayable: bytes = b""):
        super().__init__(message)
        self.relayable = relayable


@dataclass(slots=True)
class Tokens:
    input: int = 0
    output: int = 0
    total: int = 0
    cached_input: int = 0  # of `input`, read from the provider's prompt cache
    estimated: bool = False  # the provider never said; see `estimates`


def _first_int(container: dict, names: tuple[str, ...]) -> int:
    for name in names:
        value = container.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return 0


def tokens_from_usage(usage: dict, location: UsageLocation) -> Tokens:
    tokens = Tokens(
        input=_first_int(usage, location.input_tokens),
        output=_first_int(usage, location.output_tokens),
        total=_first_int(usage, location.total_tokens),
    )
    if not tokens.total:
        tokens.total = tokens.input + tokens.output
    for container, name in location.cached_input_tokens:
        details = usage.get(container)
        if isinstance(details, dict):
            tokens.cached_input = _first_int(details, (name,))
            if tokens.cached_input:
                break
    return tokens


def _object_end(data: bytes, start: int) -> int:
    """Index just past the JSON object opening at `start` (strings and escapes
    respected); -1 when the object is not complete."""
    depth = 0
    in_string = False
    index = start
    length = len(data)
    while index < length:
        char = data[index]
        if in_string:
            if char == 0x5C:  # backslash: skip the escaped character
                index += 1
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char == 0x7B:
            depth += 1
        elif char == 0x7D:
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return -1


def _usage_pattern(container: str) -> re.Pattern:
    pattern = _patterns.get(container)
    if pattern is None:
        pattern = _patterns[container] = re.compile(
            rb'"%s"\s*:\s*\{' % re.escape(container.encode())
        )
    return pattern


_patterns: dict[str, re.Pattern] = {}


def usage_from_body(body: bytes, location: UsageLocation) -> Tokens | None:
    """The usage of a plain JSON answer: the last `"usage": {…}` object in it."""
    pattern = _usage_pattern(location.container)
    key = f'"{location.container}"'.encode()
    position = len(body)
    while (position := body.rfind(key, 0, position)) >= 0:
        match = pattern.match(body, position)
        if match is None:
            continue
        start = match.end() - 1
        end = _object_end(body, start)
        if end < 0:
            return None
        try:
            usage = orjson.loads(body[start:end])
        except orjson.JSONDecodeError:
            return None
        return tokens_from_usage(usage, location) if isinstance(usage, dict) else None
    return None


def plain_answer_is_valid(body: bytes, headers: dict[str, str]) -> bool:
    """False for a JSON answer that does not parse. Asked only of an answer in which no
    usage was found (a whole completion carries one), so a normal call parses nothing."""
    if not headers.get("content-type", "").startswith("application/json"):
        return True
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


def _last_event_end(data: bytes, start: int = 0) -> int:
    """Index just past the last blank line (at or after `start`) that ends an event; -1
    when there is none."""
    end = -1
    for separator in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        position = data.rfind(separator, start)
        if position >= 0:
            end = max(end, position + len(separator))
    return end


def _event_data(event: bytes) -> bytes:
    lines = []
    for line in event.splitlines():
        if line.startswith(b"data:"):
            value = line[5:]
            lines.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(lines)


def _usage_of_event(data: dict, container: str) -> dict | None:
    usage = data.get(container)
    if isinstance(usage, dict):
        return usage
    response = data.get("response")  # Responses API: response.completed / incomplete
    if isinstance(response, dict) and isinstance(response.get(container), dict):
        return response[container]
    return None


def _valid_event(event: bytes) -> bool:
    """Cheap shape check of one event (no parsing): no data (a comment, a keep-alive),
    `[DONE]`, or data framed as JSON."""
    line = event.rstrip(b"\r\n")
    if line.startswith(b"data: {") and b"\n" not in line and b"\r" not in line:
        return line.endswith(b"}")  # the usual one-line event
    data = _event_data(event).strip()
    return not data or data == b"[DONE]" or (data[:1] in b"{[" and data[-1:] in b"}]")


class SSEUsageReader:
    """Feed it the raw chunks of a stream; it returns the complete events to relay and
    remembers the usage it saw (`tokens`). Raises InvalidStream on a malformed event."""

    def __init__(self, location: UsageLocation, *, strip_usage_chunk: bool):
        self.location = location
        self.strip_usage_chunk = strip_usage_chunk
        self.tokens: Tokens | None = None
        self._usage_object = _usage_pattern(location.container)
        self._pending = b""
        self.text_deltas = 0  # relayed so far: the output estimate when no usage comes

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk if self._pending else chunk
        # Only the new bytes (and the three before, a separator cut in two) can end an
        # event: the held part was searched already.
        end = _last_event_end(data, max(len(self._pending) - 3, 0))
        if end < 0:
            if len(data) > MAX_EVENT_BYTES:
                raise InvalidStream(f"an event longer than {MAX_EVENT_BYTES} bytes")
            self._pending = data
            return b""
        complete, self._pending = data[:end], data[end:]
        return self._relayable(complete)

    def finish(self) -> bytes:
        """What is left when the stream ends (a last event without its blank line)."""
        rest, self._pending = self._pending, b""
        if not rest.strip():
            return rest
        kept = self._relayable(rest + b"\n\n")
        return kept if self.strip_usage_chunk else rest  # the provider's bytes unchanged

    def _relayable(self, complete: bytes) -> bytes:
        start = 0
        for end in _EVENT_END.finditer(complete):
            if not _valid_event(complete[start : end.end()]):
                self._pending = b""
                relayable = self._relayable(complete[:start]) if start else b""
                raise InvalidStream("a malformed server-sent event", relayable)
            start = end.end()
        self.text_deltas += text_deltas(complete)
        if self._usage_object.search(complete) is None:
            return complete
        return self._read_usage(complete)

    def _read_usage(self, complete: bytes) -> bytes:
        """Parse the events that carry a usage object; return `complete` without the
        usage-only chunk when it must be hidden."""
        kept = []
        start = 0
        for end in _EVENT_END.finditer(complete):
            event = complete[start : end.end()]
            start = end.end()
            if self._usage_object.search(event) is None:
                kept.append(event)
                continue
            try:
                payload = orjson.loads(_event_data(event))
            except orjson.JSONDecodeError:
                kept.append(event)
                continue
            usage = (
                _usage_of_event(payload, self.location.container)
                if isinstance(payload, dict)
                else None
            )
            if usage is not None:
                self.tokens = tokens_from_usage(usage, self.location)
            # The extra chunk asked for on the caller's behalf: no choices, only usage.
            if self.strip_usage_chunk and usage is not None and payload.get("choices") == []:
                continue
            kept.append(event)
        kept.append(complete[start:])
        return b"".join(kept)
