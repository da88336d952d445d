"""Token counts for a call whose provider never reported them: a streamed answer the
caller hung up on, or the provider dropped, before the final usage chunk. The provider
bills those tokens all the same, so the call counts them — estimated, and marked so.

* Input: the characters of the prompt's text (chat `messages`, the Responses API's
  `instructions` and `input`, a completion's `prompt`) ÷ 4, plus 4 per message for its
  role and framing — OpenAI's rule of thumb for English text.
* Output: one token per text delta relayed to the caller (`"content":"…"` of a chat
  chunk, `"delta":"…"` of a Responses event): providers stream about one token per
  delta, and counting them costs the relay two byte searches per chunk, no parsing.
"""

import math

import orjson

CHARACTERS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TEXT_DELTA_MARKERS = (b'"content":"', b'"delta":"')


def text_deltas(chunk: bytes) -> int:
    """How many text deltas a relayed chunk carries."""
    return sum(chunk.count(marker) for marker in TEXT_DELTA_MARKERS)


def _text_length(value) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):  # content parts, or a list of Responses input items
        return sum(_text_length(item) for item in value)
    if isinstance(value, dict):
        return sum(_text_length(value.get(key)) for key in ("text", "content"))
    return 0


def prompt_tokens(body: bytes) -> int:
    """The estimated input tokens of a request body (0 when it is not a JSON object)."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 0
    if not isinstance(request, dict):
        return 0
    messages = request.get("messages")
    count = len(messages) if isinstance(messages, list) else 0
    characters = sum(
        _text_length(request.get(key)) for key in ("messages", "instructions", "input", "prompt")
    )
    return math.ceil(characters / CHARACTERS_PER_TOKEN) + TOKENS_PER_MESSAGE * count
