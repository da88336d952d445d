"""Load from wrk (with `chat.lua`) and the first-chunk latency probe."""

import json
import signal
import socket
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .processes import pinned

LUA_SCRIPT = Path(__file__).resolve().parent / "chat.lua"
RESULT_PREFIX = "BENCH_RESULT "
DRAINED = "BENCH_DRAINED"


@dataclass
class Target:
    """Where the load goes: the fake itself, our gateway, or LiteLLM's proxy."""

    name: str
    url: str  # full URL of the chat completions endpoint
    key: str
    pid: int | None = None  # the proxy's serving process (for CPU and memory), if any


def run_wrk(
    wrk: str,
    target: Target,
    *,
    stream: bool,
    connections: int,
    seconds: int,
    core: int | None,
) -> dict:
    """One wrk run of `seconds` that ends gracefully (see chat.lua); returns chat.lua's
    JSON summary plus `requests_per_second` and `errors`."""
    upper_bound = seconds + 60  # wrk's own timer: only if the drain never comes
    command = pinned(
        [
            wrk, "-t1", f"-c{connections}", f"-d{upper_bound}s", "--timeout", "30s",
            "-s", str(LUA_SCRIPT), target.url,
            "--", "1" if stream else "0", target.key, str(seconds),
        ],
        core,
    )  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith(DRAINED):
                # Every call has its answer: end wrk's timer now (it then reports).
                process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read()
    process.stderr.close()
    process.stdout.close()
    for line in lines:
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX) :])
            break
    else:
        raise RuntimeError(
            f"wrk printed no result (exit {process.returncode}):\n"
            f"{''.join(lines)[-2000:]}\n{stderr[-2000:]}"
        )
    duration = result["duration_us"] / 1e6
    result["requests_per_second"] = result["requests"] / duration if duration else 0.0
    # A call without its answer (cut off by wrk's upper bound) counts as an error too, and
    # so does a run in which nothing completed.
    result["errors"] = (
        result["bad_status"]
        + result["bad_body"]
        + sum(result["socket_errors"].values())
        + (result["sent"] - result["received"])
        + (0 if result["requests"] else 1)
    )
    return result


# --- first chunk ---------------------------------------------------------------------------


def _first_chunk_call(url: str, key: str) -> tuple[float, bool]:
    """One streamed chat call over a plain socket: (the wall-clock time the first bytes
    of the answer's body arrived, whether the answer completed with [DONE])."""
    parts = urlsplit(url)
    body = json.dumps(
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Say hello."}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()
    head = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(head + body)
        received = b""
        while b"\r\n\r\n" not in received:
            data = sock.recv(65536)
            if not data:
                return 0.0, False
            received += data
        headers, _, rest = received.partition(b"\r\n\r\n")
        if not headers.startswith(b"HTTP/1.1 200"):
            return 0.0, False
        first_at = time.time() if rest else 0.0
        while True:
            data = sock.recv(65536)
            if not first_at and data:
                first_at = time.time()
            if not data:
                break
            rest += data
    return first_at, b"data: [DONE]" in rest


def first_chunk_delays(
    fake_url: str, target: Target, *, calls: int, first_chunk_delay: float
) -> dict:
    """Time from the fake sending the first chunk of a streamed answer to the client
    receiving it, through `target`, with the fake holding the first chunk back
    `first_chunk_delay` seconds (so the delay is not hidden in the request's own time).

    The fake records when it sent each first chunk; the calls are sequential, so its log
    and ours line up one to one."""
    httpx.post(f"{fake_url}/_fake/reset", timeout=10).raise_for_status()
    httpx.post(
        f"{fake_url}/_fake/config",
        json={"first_chunk_delay": first_chunk_delay, "record": True},
        timeout=10,
    ).raise_for_status()
    received, complete = [], 0
    try:
        for _ in range(calls):
            first_at, done = _first_chunk_call(target.url, target.key)
            received.append(first_at)
            complete += done
        log = httpx.get(f"{fake_url}/_fake/requests", timeout=30).json()
    finally:
        httpx.post(f"{fake_url}/_fake/reset", timeout=10).raise_for_status()
    sent = [
        entry["first_chunk_at"]
        for entry in log
        if entry["path"] == "/v1/chat/completions" and entry["stream"]
    ]
    if len(sent) != calls or not all(sent) or not all(received):
        raise RuntimeError(
            f"first-chunk probe through {target.name}: {len(sent)} streams seen by the fake, "
            f"{sum(1 for value in received if value)} first chunks received, {calls} calls"
        )
    delays_ms = sorted((got - gone) * 1000 for got, gone in zip(received, sent, strict=True))
    return {
        "calls": calls,
        "completed": complete,
        "p50_ms": statistics.median(delays_ms),
        "p90_ms": delays_ms[int(0.9 * (len(delays_ms) - 1))],
        "max_ms": delays_ms[-1],
        "min_ms": delays_ms[0],
    }
