"""`python -m bench.chaos` (or `python3 dev.py chaos`): the chaos run (see bench/README.md).

Calls through a live gateway (set up as the benchmark sets it up: PostgreSQL + Redis + a
Celery worker when DATABASE_URL and REDIS_URL are set) to the fake, with faults mixed in
call by call (`chaos_calls.fault_table`); then every call is matched to its usage record
and the gateway's RSS and open file descriptors, sampled before, during and after, are
compared with their baseline (`chaos_report`).
"""

import argparse
import asyncio
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from blaxel_console.testing.resources import tcp_rows

from . import chaos_calls, chaos_report, environment, processes
from .cli import RESULTS_DIR, Bench
from .environment import VAR

DEFAULT_CALLS = 10_000
DEFAULT_CONNECTIONS = 64
# The gateway's GATEWAY_READ_TIMEOUT during the run, seconds: short, so timeouts are cheap,
# yet long enough that a busy machine never makes a normal call time out.
DEFAULT_READ_TIMEOUT = 5.0
SAMPLE_EVERY = 0.5  # seconds between RSS / fd samples
SETTLE_TIMEOUT = 90.0  # seconds to wait for the fds to come back (keep-alives expire)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.chaos", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="calls (10000)")
    parser.add_argument(
        "--connections", type=int, default=DEFAULT_CONNECTIONS, help="concurrent connections (64)"
    )
    parser.add_argument(
        "--warmup-calls",
        type=int,
        default=None,
        help="calls of the same mix before the baseline is read (default: 5%% of --calls, "
        "at least 4 per connection)",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=DEFAULT_READ_TIMEOUT,
        help="the gateway's GATEWAY_READ_TIMEOUT, seconds (5); the timeout fault waits 1 s more",
    )
    parser.add_argument("--seed", type=int, default=1, help="of the calls' order (1)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="database to use as is (default: PostgreSQL `blaxel_chaos` on the server of "
        "DATABASE_URL, created if missing; else SQLite under var/bench)",
    )
    parser.add_argument(
        "--redis-url", default=None, help="Redis (default REDIS_URL; empty = embedded mode)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write chaos.json/.md and chaos-calls.jsonl (default: bench/results/ "
        "as chaos-latest.* for a run of 10,000 calls or more, var/bench/<run>/ otherwise)",
    )
    args = parser.parse_args(argv)
    if args.warmup_calls is None:
        args.warmup_calls = max(args.calls // 20, 4 * args.connections)
    return args


def open_files(pid: int, ports: dict[str, int]) -> dict[str, int]:
    """The process's open file descriptors by kind: TCP sockets by peer (`ports`: name →
    remote port; `callers` → the process's own listening port), listening sockets, other."""
    sockets = {inode: (local, remote, state) for local, remote, state, inode in tcp_rows(pid)}
    kinds: dict[str, int] = {}
    peers = {port: name for name, port in ports.items() if name != "callers"}
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        kind = "other"
        if target.startswith("socket:["):
            local, remote, state = sockets.get(int(target[8:-1]), (0, 0, ""))
            if state == "LISTEN":
                kind = "listening"
            elif local == ports.get("callers"):
                kind = "callers"
            else:
                kind = peers.get(remote, "other sockets")
        kinds[kind] = kinds.get(kind, 0) + 1
    return dict(sorted(kinds.items()))


class Sampler:
    """The gateway's RSS (MiB) and open file descriptors, every SAMPLE_EVERY seconds in a
    thread while a phase runs; settled readings say what the descriptors are."""

    def __init__(self, pid: int, ports: dict[str, int]):
        self.pid = pid
        self.ports = ports
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-sampler", daemon=True)

    def read(self) -> dict:
        kinds = open_files(self.pid, self.ports)
        total = sum(kinds.values())
        return {
            "rss_mib": round(processes.memory_kib(self.pid)["VmRSS"] / 1024, 2),
            "fds": total,
            # Redis's connection pool keeps what the busiest moment opened (see checks).
            "fds_outside_redis_pool": total - kinds.get("redis", 0),
            "fd_kinds": kinds,
        }

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.samples.append(self.read())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def settled(self, *, at_most: int | None = None, timeout: float = SETTLE_TIMEOUT) -> dict:
        """A reading once the fd count has not moved for 2 s (and, when given, the fds
        outside Redis's pool are at most `at_most`); the last reading when `timeout`
        passes first."""
        deadline = time.monotonic() + timeout
        window: list[int] = []
        while True:
            reading = self.read()
            window = [*window[-3:], reading["fds"]]
            steady = len(window) == 4 and len(set(window)) == 1
            if steady and (at_most is None or reading["fds_outside_redis_pool"] <= at_most):
                return {**reading, "settled": True}
            if time.monotonic() > deadline:
                return {**reading, "settled": False}
            time.sleep(SAMPLE_EVERY)


class ChaosRun(Bench):
    """The benchmark's set-up (fake, Celery worker, gateway, provisioning) without wrk,
    the gateway with a short read timeout."""

    needs_wrk = False
    database_name = "blaxel_chaos"  # its own: the benchmark forgets earlier runs in its own

    def __init__(self, args):
        self.args = args
        self.run_id = secrets.token_hex(4)
        self.log_dir = VAR / self.run_id
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.started: list[processes.Process] = []
        self.clock = time.monotonic()
        self.gateway_env = {"GATEWAY_READ_TIMEOUT": str(args.read_timeout)}
        self.results: dict = {
            "mode": "chaos",
            "run_id": self.run_id,
            "machine": environment.machine(),
            "versions": {},
            "settings": {
                "calls": args.calls,
                "connections": args.connections,
                "warmup_calls": args.warmup_calls,
                "gateway_read_timeout_s": args.read_timeout,
                "seed": args.seed,
                "rss_tolerance_percent": chaos_report.RSS_TOLERANCE_PERCENT,
                "fd_tolerance": chaos_report.FD_TOLERANCE,
            },
            "memory": {},
        }

    def peer_ports(self) -> dict[str, int]:
        ports = {
            "callers": urlsplit(self.gateway_url).port,
            "provider (the fake)": urlsplit(self.fake_url).port,
            "database": urlsplit(self.backend.database_url).port or 5432,
        }
        if self.backend.redis_url:
            ports["redis"] = urlsplit(self.backend.redis_url).port or 6379
        return ports

    def calls(self, planned: list[chaos_calls.Planned]) -> tuple[list[dict], float]:
        base_url = self.gateway_url + self.provisioned.endpoint_path().removesuffix(
            "/chat/completions"
        )

        async def make_calls():
            caller = chaos_calls.Caller(base_url, self.provisioned.api_key, self.args.connections)
            try:
                return await caller.run(planned)
            finally:
                await caller.close()

        started = time.monotonic()
        made = asyncio.run(make_calls())
        return made, time.monotonic() - started

    def run(self) -> dict:
        self.say(f"chaos run {self.run_id}: setting up (logs in {self.log_dir})")
        self.setup()
        self.results["versions"] = chaos_report.versions()
        self.results["workspace_id"] = self.provisioned.workspace_id
        faults = chaos_calls.fault_table(self.args.read_timeout)
        self.results["faults"] = chaos_report.describe_faults(faults)
        sampler = Sampler(self.gateway.pid, self.peer_ports())
        resources: dict = {"idle": sampler.settled()}

        warmup = chaos_calls.plan(self.args.warmup_calls, faults, self.args.seed + 1)
        self.say(f"warm-up: {len(warmup):,} calls, {self.args.connections} connections")
        warm_calls, _ = self.calls(warmup)
        resources["before"] = sampler.settled()
        self.say(f"baseline: {resources['before']}")

        planned = chaos_calls.plan(self.args.calls, faults, self.args.seed)
        self.say(f"chaos: {len(planned):,} calls, {self.args.connections} connections")
        with sampler:
            made, seconds = self.calls(planned)
        self.say(f"chaos: done in {seconds:.1f} s")
        before = resources["before"]
        resources["during"] = chaos_report.summarize_samples(sampler.samples)
        resources["after"] = sampler.settled(
            at_most=before["fds_outside_redis_pool"] + chaos_report.FD_TOLERANCE
        )
        self.say(f"after: {resources['after']}")
        self.results["resources"] = resources
        self.results["run"] = {
            "calls": len(made),
            "seconds": round(seconds, 1),
            "calls_per_second": round(len(made) / seconds, 1) if seconds else None,
        }

        every_call = [{**call, "phase": "warm-up"} for call in warm_calls]
        every_call += [{**call, "phase": "chaos"} for call in made]
        self.every_call = every_call
        self.say("waiting for the usage records")
        self.results["accounting"] = chaos_report.account(
            every_call, faults, workspace_id=self.provisioned.workspace_id
        )
        self.results["per_fault"] = chaos_report.per_fault(
            [call for call in every_call if call["phase"] == "chaos"], faults
        )
        self.results["load_average_at_end"] = environment.load_average()
        self.results["checks"] = chaos_report.checks(self.results)
        return self.results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    chaos = ChaosRun(args)
    try:
        results = chaos.run()
    finally:
        chaos.stop_all()
    if args.output:
        directory, stem = args.output, "chaos"
    elif args.calls >= DEFAULT_CALLS:
        directory, stem = RESULTS_DIR, "chaos-latest"
    else:
        directory, stem = chaos.log_dir, "chaos"
    json_path, markdown_path = chaos_report.write(results, directory, stem)
    calls_path = (args.output or chaos.log_dir) / "chaos-calls.jsonl"
    chaos_report.write_calls(chaos.every_call, calls_path)
    print()
    print(chaos_report.markdown(results))
    print(f"written: {json_path}, {markdown_path}, {calls_path}")
    return 1 if any(check["passed"] is False for check in results["checks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
