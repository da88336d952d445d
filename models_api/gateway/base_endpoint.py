"""Blaxel's base endpoint of a model API: `POST {RUN_URL}/{workspace}/models/{name}` (no
sub-path) with `{"inputs": "…"}` generates text with the model API's model.

It is a chat completion underneath: the inputs become one user message, forwarded
through the same path as `…/v1/chat/completions` (admission, policies, fallback between
connections, usage records). The answer is small:
`{"text", "model", "finish_reason", "usage"}` (usage as the provider counted it); with
`"stream": true`, server-sent events `{"text": "<delta>"}`, then one with
`finish_reason` and `usage`, then `[DONE]`. The provider's errors pass through in
OpenAI's shape, as on every gateway path.
"""

import logging

import orjson
from django.http import HttpResponse

from . import errors
from .views import GatewayView, RelayResponse, proxy

logger = logging.getLogger(__name__)

CHAT_PATH = "v1/chat/completions"
# Optional generation settings, by the base endpoint's name → the chat completion's.
PARAMETERS = {
    "max_new_tokens": "max_tokens",
    "max_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "stop": "stop",
    "seed": "seed",
}
_KEPT_HEADERS = ("x-request-id", "x-blaxel-request-id")


class BaseEndpointView(GatewayView):
    async def async_dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs, self.request = args, kwargs, request
        try:
            return await generate(request, **kwargs)
        except errors.GatewayError as error:
            return error.response()
        except Exception:
            logger.exception("gateway: unexpected error")
            return errors.unexpected().response()


def chat_body(raw_body: bytes) -> bytes:
    """The chat completion for a base-endpoint body; a 400 `GatewayError` when the body
    is not `{"inputs": "<text>", "stream"?: bool, "parameters"?: {...}}`."""
    try:
        body = orjson.loads(raw_body or b"null")
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise errors.GatewayError(400, 'The body must be a JSON object: {"inputs": "…"}.')
    inputs = body.get("inputs")
    if not isinstance(inputs, str) or not inputs.strip():
        raise errors.GatewayError(
            400, "“inputs” must be a non-empty string.", code="invalid_inputs", param="inputs"
        )
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise errors.GatewayError(400, "“stream” must be true or false.", param="stream")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict) or not set(parameters) <= set(PARAMETERS):
        raise errors.GatewayError(
            400,
            f"“parameters” may hold only: {', '.join(sorted(PARAMETERS))}.",
            param="parameters",
        )
    chat = {"messages": [{"role": "user", "content": inputs}], "stream": stream}
    chat.update({PARAMETERS[name]: value for name, value in parameters.items()})
    if stream:
        chat["stream_options"] = {"include_usage": True}  # for the closing event
    return orjson.dumps(chat)


async def generate(request, *, workspace: str, model_api: str, path: str) -> HttpResponse:
    call = request.admitted_call
    if request.method != "POST":
        error = errors.GatewayError(
            405, "Use POST for a model API's base endpoint.", code="method_not_allowed"
        )
        error.headers["Allow"] = "POST"
        raise _refused(call, error)
    try:
        request.raw_body = chat_body(request.raw_body)
    except errors.GatewayError as error:
        raise _refused(call, error) from None
    answer = await proxy(request, workspace=workspace, model_api=model_api, path=path)
    if isinstance(answer, RelayResponse):
        return _streamed(answer)
    if answer.status_code >= 400:
        return answer
    return _plain(answer)


def _refused(call, error: errors.GatewayError) -> errors.GatewayError:
    if call is not None:
        call.refused(error.status, error.error_type)
    return error


def text_answer(completion: dict) -> dict:
    choice = (completion.get("choices") or [{}])[0]
    return {
        "text": (choice.get("message") or {}).get("content") or "",
        "model": completion.get("model"),
        "finish_reason": choice.get("finish_reason"),
        "usage": completion.get("usage"),
    }


def _plain(answer: HttpResponse) -> HttpResponse:
    try:
        completion = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        raise errors.bad_gateway("The provider's answer is not JSON.") from None
    response = errors.json_response(answer.status_code, orjson.dumps(text_answer(completion)))
    for name in _KEPT_HEADERS:
        if name in answer:
            response[name] = answer[name]
    return response


class TextEvents:
    """Chat-completion events in, the base endpoint's events out: a `{"text"}` per
    delta, then `{"text": "", "finish_reason", "usage"}` once the usage chunk (or the
    end) comes, then `[DONE]`. Error events pass through."""

    def __init__(self):
        self.finish_reason = None
        self.closed = False

    def feed(self, event: bytes) -> bytes:
        if event.startswith(b"event: error"):
            return event + b"\n\n"
        if not event.startswith(b"data:"):
            return b""
        data = event[5:].strip()
        if data == b"[DONE]":
            return self.close(None) + b"data: [DONE]\n\n"
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return b""
        choice = (chunk.get("choices") or [{}])[0]
        self.finish_reason = choice.get("finish_reason") or self.finish_reason
        text = (choice.get("delta") or {}).get("content")
        out = _event({"text": text}) if text else b""
        if chunk.get("usage"):
            out += self.close(chunk["usage"])
        return out

    def close(self, usage) -> bytes:
        if self.closed:
            return b""
        self.closed = True
        return _event({"text": "", "finish_reason": self.finish_reason, "usage": usage})


def _event(payload: dict) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _streamed(answer: RelayResponse) -> RelayResponse:
    async def relay():
        chat_events = aiter(answer)
        translator = TextEvents()
        buffer = b""
        try:
            async for chunk in chat_events:
                buffer += chunk.replace(b"\r\n", b"\n")
                *events, buffer = buffer.split(b"\n\n")
                translated = b"".join(translator.feed(event.strip()) for event in events)
                if translated:
                    yield translated
            if buffer.strip():
                yield translator.feed(buffer.strip())
        finally:
            await chat_events.aclose()

    response = RelayResponse(relay(), status=answer.status_code)
    for name, value in answer.items():
        if name.lower() != "content-length":
            response[name] = value
    return response
