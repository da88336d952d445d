"""Token usage out of provider answers, and the server-sent-event relay.

Plain answers: the `usage` object is found from the end of the body and only that
object is parsed (an embeddings answer can be megabytes of floats).

Streamed answers: chunks go to the caller as they arrive. On the side, the stream is
cut into events, and only an event carrying a `"usage": {…}` object is parsed (a chat
stream's last chunk when `stream_options.include_usage` is set; the Responses API's
`response.completed`). When the gateway asked for that chunk on the caller's behalf, it
is removed from what the caller sees; then complete events are relayed (an event cut in
two by the network is held until its end arrives, which never delays a usable byte).
"""

import re
from dataclasses import dataclass

import orjson

from integrations.providers import UsageLocation

from .estimates import text_deltas

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


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


def _last_event_end(data: bytes) -> int:
    """Index just past the last blank line that ends an event; -1 when there is none."""
    end = -1
    for separator in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        position = data.rfind(separator)
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


class SSEUsageReader:
    """Feed it the raw chunks of a stream; it returns what to relay and remembers the
    usage it saw (`tokens`)."""

    def __init__(self, location: UsageLocation, *, strip_usage_chunk: bool):
        self.location = location
        self.strip_usage_chunk = strip_usage_chunk
        self.tokens: Tokens | None = None
        self._usage_object = _usage_pattern(location.container)
        self._pending = b""
        self.text_deltas = 0  # relayed so far: the output estimate when no usage comes

    @property
    def at_event_boundary(self) -> bool:
        return not self._pending

    def feed(self, chunk: bytes) -> bytes:
        self.text_deltas += text_deltas(chunk)
        data = self._pending + chunk if self._pending else chunk
        end = _last_event_end(data)
        if end < 0:
            self._pending = data
            return chunk if not self.strip_usage_chunk else b""
        complete, self._pending = data[:end], data[end:]
        if not self.strip_usage_chunk:
            if self._usage_object.search(complete):
                self._read_usage(complete)
            return chunk
        if self._usage_object.search(complete) is None:
            return complete
        return self._read_usage(complete)

    def finish(self) -> bytes:
        """What is left when the stream ends (a last event without its blank line)."""
        rest, self._pending = self._pending, b""
        if not rest:
            return b""
        if self._usage_object.search(rest):
            kept = self._read_usage(rest + b"\n\n")
            return kept if self.strip_usage_chunk else b""
        return rest if self.strip_usage_chunk else b""

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
