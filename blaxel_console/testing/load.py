"""Calls kept running against a live gateway while a test breaks something underneath it
(the fault suite): a few threads call through the official OpenAI SDK in a loop, plain
and streamed in turn, and every call's outcome is kept with the phase the test was in
when the call started."""

import threading
from collections import Counter
from dataclasses import dataclass

import openai

from .waiting import wait_until

PROMPT = [{"role": "user", "content": "Say hello to me"}]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One call as its client saw it."""

    phase: str
    streamed: bool
    status: int  # the HTTP status; 0 when no answer came
    request_id: str | None  # the gateway's X-Blaxel-Request-Id, when it forwarded the call
    code: str | None = None  # the error code of a refused call
    complete: bool = False  # an answer with content that ended normally (a stream: [DONE])


def call_once(client: openai.OpenAI, *, streamed: bool, phase: str = "") -> Outcome:
    """One chat completion through `client`; never raises."""
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=PROMPT, stream=streamed
        )
        request_id = raw.headers.get("x-blaxel-request-id")
        if streamed:
            parts = [chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices]
            content = "".join(parts)
        else:
            content = raw.parse().choices[0].message.content
        return Outcome(phase, streamed, raw.status_code, request_id, complete=bool(content))
    except openai.APIStatusError as error:
        request_id = error.response.headers.get("x-blaxel-request-id")
        return Outcome(phase, streamed, error.status_code, request_id, code=error.code)
    except openai.APIError as error:  # no answer, or a stream cut short
        return Outcome(phase, streamed, 0, None, code=type(error).__name__)


class CallLoad:
    """`callers` threads calling through `client` until `stop()`. Set `phase` to label the
    calls that start from then on."""

    def __init__(self, client: openai.OpenAI, *, callers: int = 2):
        self.client = client
        self.phase = "before"
        self._outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(index,), daemon=True)
            for index in range(callers)
        ]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self) -> list[Outcome]:
        """Stop calling; every call started has ended when this returns."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self.outcomes()

    def _run(self, index: int) -> None:
        streamed = bool(index % 2)
        while not self._stopping.is_set():
            outcome = call_once(self.client, streamed=streamed, phase=self.phase)
            with self._lock:
                self._outcomes.append(outcome)
            streamed = not streamed

    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return list(self._outcomes)

    def count(self, *, phase: str, status: int = 200) -> int:
        return sum(1 for item in self.outcomes() if item.phase == phase and item.status == status)

    def wait_for(self, calls: int, *, phase: str, status: int = 200, timeout: float = 60.0):
        """Wait until `calls` calls that started in `phase` ended with `status`."""
        wait_until(lambda: self.count(phase=phase, status=status) >= calls, timeout=timeout)

    def statuses(self) -> Counter:
        return Counter(item.status for item in self.outcomes())
