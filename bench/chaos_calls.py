"""The chaos run's calls: the faults it mixes in, and the client that makes the calls with
the official `openai` SDK (no retries: one call is one request, so one usage record).

Each call names its fault in the `X-Fake-Fault` header, which the gateway forwards to the
fake like any other caller header (`integrations/fake_openai.py`). The call keeps the
`X-Blaxel-Request-Id` the gateway answered with: the id of its usage record.
"""

import asyncio
import json
import random
import time
from dataclasses import dataclass

import httpx
import openai

MESSAGES = [{"role": "user", "content": "chaos run call"}]
RETRY_AFTER = 2  # seconds, the provider's 429 says
REQUEST_ID_HEADER = "x-blaxel-request-id"


@dataclass(frozen=True)
class Fault:
    """One kind of call in the mix, and what it must leave behind."""

    name: str
    weight: int  # share of the calls, out of the table's total
    stream: bool | None  # None: plain and streamed in turns
    header: dict | None  # X-Fake-Fault (None: the fake's normal answer)
    status: int  # the usage record's status_code
    error_type: str  # the usage record's error_type
    estimated: bool  # the record's tokens are the gateway's estimate
    outcome: str  # what the client must see (see `Caller.call`)


def fault_table(read_timeout: float) -> tuple[Fault, ...]:
    """The mix, for a gateway whose GATEWAY_READ_TIMEOUT is `read_timeout` seconds. The
    headers name the fake's fault kinds (`FAULT_KINDS`) or per-request delays."""
    return (
        Fault("success", 28, False, None, 200, "", False, "ok"),
        Fault("success, streamed", 18, True, None, 200, "", False, "ok"),
        Fault("provider 500", 5, None, {"status": 500}, 500, "server_error", False, "status"),
        Fault("provider 503", 5, None, {"status": 503}, 503, "server_error", False, "status"),
        Fault(
            "provider 429 + retry-after",
            5,
            None,
            {"status": 429, "retry_after": RETRY_AFTER},
            429,
            "rate_limit_exceeded",
            False,
            "status",
        ),
        Fault(
            "provider reset after headers",
            5,
            False,
            {"fault": "reset_after_headers"},
            502,
            "upstream_disconnected",
            False,
            "status",
        ),
        Fault(
            "provider reset mid-stream",
            8,
            True,
            {"fault": "reset_mid_stream", "after_chunks": 5},
            200,
            "upstream_disconnected",
            True,
            "stream error",
        ),
        Fault(
            "provider trickle",
            4,
            None,
            {"fault": "trickle", "bytes": 256, "delay": 0.01},
            200,
            "",
            False,
            "ok",
        ),
        Fault(
            "provider invalid JSON",
            3,
            False,
            {"fault": "invalid_json"},
            502,
            "upstream_invalid_response",
            False,
            "status",
        ),
        Fault(
            "provider invalid SSE",
            3,
            True,
            {"fault": "invalid_sse"},
            200,
            "upstream_invalid_response",
            True,
            "stream error",
        ),
        Fault(
            "provider large answer (256 KiB)",
            3,
            None,
            {"fault": "large_answer", "size": 256 * 1024},
            200,
            "",
            False,
            "ok",
        ),
        Fault(
            "provider timeout (no answer)",
            4,
            None,
            # Not even headers before the gateway's read timeout has passed (long after
            # it: the gateway hangs up first however busy the machine).
            {"fault": "no_answer", "seconds": read_timeout + 20.0},
            504,
            "upstream_timeout",
            False,
            "status",
        ),
        Fault(
            "client disconnect mid-stream",
            9,
            True,
            # The stream stalls after its first event (within the read timeout): the
            # caller hangs up while the gateway waits for the provider's next chunk.
            {"chunk_delay": read_timeout / 2},
            499,  # client closed request, whenever the caller hangs up
            "client_disconnected",
            True,
            "disconnected",
        ),
    )


@dataclass
class Planned:
    index: int
    fault: Fault
    stream: bool


def plan(calls: int, faults: tuple[Fault, ...], seed: int) -> list[Planned]:
    """`calls` calls with each fault's share (rounded; success takes the remainder), in a
    seeded random order."""
    total_weight = sum(fault.weight for fault in faults)
    counts = [calls * fault.weight // total_weight for fault in faults]
    counts[0] += calls - sum(counts)
    kinds = [fault for fault, count in zip(faults, counts, strict=True) for _ in range(count)]
    random.Random(seed).shuffle(kinds)
    planned = []
    for index, fault in enumerate(kinds):
        stream = fault.stream if fault.stream is not None else bool(index % 2)
        planned.append(Planned(index, fault, stream))
    return planned


class Caller:
    """Makes the planned calls through the gateway with `connections` at a time."""

    def __init__(self, base_url: str, api_key: str, connections: int):
        self.connections = connections
        # Idle connections kept 1 s at most, well under the gateway's keep-alive (uvicorn's
        # 5 s): a call never goes out on a connection the gateway is closing (that call
        # would never reach it, so it could leave no record).
        limits = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=1.0
        )
        self.http = openai.DefaultAsyncHttpxClient(limits=limits, timeout=60.0)
        self.client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, max_retries=0, http_client=self.http
        )

    async def close(self) -> None:
        await self.client.close()

    async def run(self, planned: list[Planned]) -> list[dict]:
        pending = iter(planned)
        results: list[dict] = []

        async def worker():
            for item in pending:
                results.append(await self.call(item))

        await asyncio.gather(*(worker() for _ in range(self.connections)))
        results.sort(key=lambda result: result["index"])
        return results

    async def call(self, item: Planned) -> dict:
        """One call; `outcome` says what the client saw: ok (a full answer with usage),
        status (an error answer with the fault's status), stream error (the gateway's
        error event after some chunks), disconnected (we hung up mid-stream); anything
        else is `unexpected: …`."""
        fault = item.fault
        headers = {"X-Fake-Fault": json.dumps(fault.header)} if fault.header else {}
        result = {"index": item.index, "fault": fault.name, "stream": item.stream}
        request_id = status = None
        started = time.perf_counter()
        try:
            if item.stream:
                request_id, status, outcome = await self._streamed(fault, headers)
            else:
                raw = await self.client.chat.completions.with_raw_response.create(
                    model="gpt-4o-mini", messages=MESSAGES, extra_headers=headers
                )
                request_id, status = raw.headers.get(REQUEST_ID_HEADER), raw.status_code
                completion = raw.parse()
                usable = completion.usage and completion.choices[0].message.content
                outcome = "ok" if usable else "unexpected: no usage or content"
        except openai.APIStatusError as error:
            request_id = error.response.headers.get(REQUEST_ID_HEADER)
            status = error.status_code
            outcome = _status_outcome(fault, error)
        except openai.APIError as error:  # raised by an SSE error event, or no answer at all
            outcome = f"unexpected: {type(error).__name__}: {error}"[:200]
        milliseconds = round((time.perf_counter() - started) * 1000, 1)
        result.update(request_id=request_id, status=status, outcome=outcome, ms=milliseconds)
        return result

    async def _streamed(self, fault: Fault, headers: dict):
        create = self.client.chat.completions.with_streaming_response.create
        async with create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers,
        ) as response:
            request_id = response.headers.get(REQUEST_ID_HEADER)
            events, usage = 0, None
            try:
                async for chunk in await response.parse():
                    events += 1
                    usage = chunk.usage or usage
                    if fault.outcome == "disconnected":
                        return request_id, response.status_code, "disconnected"
            except openai.APIError as error:
                if fault.outcome == "stream error" and events:
                    return request_id, response.status_code, "stream error"
                return request_id, response.status_code, f"unexpected: stream error {error}"
            outcome = "ok" if usage and events > 1 else "unexpected: stream ended without usage"
            return request_id, response.status_code, outcome


def _status_outcome(fault: Fault, error: openai.APIStatusError) -> str:
    if fault.outcome != "status" or error.status_code != fault.status:
        return f"unexpected: status {error.status_code}"
    if fault.status == 429 and error.response.headers.get("retry-after") != str(RETRY_AFTER):
        return "unexpected: 429 without the provider's retry-after"
    return "status"
