"""`python -m bench`: the gateway benchmark (see bench/README.md).

Starts the fake OpenAI server and wrk on core 0 and the measured proxy on core 1, then
measures direct / gateway / LiteLLM side by side, the first-chunk delay, a soak, and that
every gateway call's usage record arrived; prints one table and writes it as JSON.
"""

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

from . import environment, loadgen, processes, report
from .environment import ROOT, VAR

FAKE_CORE, PROXY_CORE = 0, 1
RESULTS_DIR = Path(__file__).resolve().parent / "results"
MIB = 1024.0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds: no LiteLLM, no soak; checks that it runs and every call succeeds",
    )
    parser.add_argument("--skip-litellm", action="store_true", help="do not measure LiteLLM")
    parser.add_argument(
        "--soak", type=int, default=None, help="calls in the soak (default 100000; 0 = none)"
    )
    parser.add_argument("--seconds", type=int, default=None, help="per measured run (10)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up per run (2 s)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="database to use as is (default: PostgreSQL `blaxel_bench` on the server of "
        "DATABASE_URL, created if missing; else SQLite under var/bench)",
    )
    parser.add_argument(
        "--redis-url", default=None, help="Redis (default REDIS_URL; empty = embedded mode)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write <stem>.json/.md (default bench/results/ as latest.* for a full "
        "run, var/bench/<run>/ otherwise)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the fake and the gateway up at the end (for profiling); Ctrl-C stops",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.skip_litellm = True
        args.soak = 0 if args.soak is None else args.soak
        args.seconds = args.seconds or 1
        args.warmup = 0 if args.warmup is None else args.warmup
    args.soak = 100_000 if args.soak is None else args.soak
    args.seconds = args.seconds or 10
    args.warmup = 2 if args.warmup is None else args.warmup
    return args


class Bench:
    # What a variant of the run changes (bench/chaos.py): wrk is needed, the database
    # (on DATABASE_URL's server), the gateway's extra environment.
    needs_wrk = True
    database_name = environment.BENCH_DATABASE
    gateway_env: dict = {}

    def __init__(self, args):
        self.args = args
        self.run_id = secrets.token_hex(4)
        self.log_dir = VAR / self.run_id
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.started: list[processes.Process] = []
        self.clock = time.monotonic()
        self.usage_expected = 0
        self.results: dict = {
            "mode": "smoke" if args.smoke else "full",
            "run_id": self.run_id,
            "machine": environment.machine(),
            "versions": {},
            "settings": {
                "seconds": args.seconds,
                "warmup": args.warmup,
                "wrk": "-t1, one connection or 32, --timeout 30s",
                "first_chunk_delay": 0.05 if args.smoke else 0.1,
                "chunks_per_stream": 20,
            },
            "runs": [],
            "memory": {},
            "first_chunk": {},
        }

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.clock:6.1f}s] {message}", flush=True)

    # --- set-up ------------------------------------------------------------------------------

    def start(self, name: str, command: list[str], env: dict, core: int | None):
        process = processes.Process(
            name, processes.pinned(command, core), env=env, cwd=ROOT, log_dir=self.log_dir
        )
        self.started.append(process)
        return process

    def setup(self) -> None:
        if (os.cpu_count() or 1) >= 2:
            # This process only waits on wrk; keep it off the measured core.
            os.sched_setaffinity(0, {FAKE_CORE})
        self.wrk_path = environment.ensure_wrk() if self.needs_wrk else None
        backend = environment.choose_backend(
            self.args.database_url, self.args.redis_url, self.database_name
        )
        environment.ensure_database(backend)
        self.backend = backend
        self.results["backend"] = backend.label
        self.env = environment.process_env(backend, run_id=self.run_id)
        # This process's Django: the same database, cache prefix and Celery queue.
        os.environ.pop("REDIS_URL", None)
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        from . import provision

        call_command("migrate", verbosity=0, interactive=False)
        provision.forget_previous_runs()
        self.say(f"database ready ({backend.label})")

        # Start the three servers together (start-up is most of a smoke run's time), then
        # create what the gateway serves while it boots.
        python = sys.executable
        fake_port = processes.free_port()
        self.fake_url = f"http://127.0.0.1:{fake_port}"
        self.fake = self.start(
            "fake-openai",
            [python, "-m", "integrations.fake_openai", "--port", str(fake_port),
             "--no-record", "--keys", provision.FAKE_KEY,
             "--config", '{"chunk_count": 20}'],
            self.env,
            FAKE_CORE,
        )  # fmt: skip
        if backend.redis_url:
            # A real worker (and beat, whose schedule drains the usage queue) on core 0.
            self.start(
                "celery-worker",
                [python, "-m", "celery", "-A", "blaxel_console", "worker", "-B",
                 "--loglevel=WARNING", "--pool=threads", "--concurrency=2",
                 "-Q", self.env["CELERY_QUEUE"], "--without-gossip", "--without-mingle",
                 "--schedule", str(self.log_dir / "beat-schedule")],
                self.env,
                FAKE_CORE,
            )  # fmt: skip
        gateway_port = processes.free_port()
        gateway_url = self.gateway_url = f"http://127.0.0.1:{gateway_port}"
        self.gateway = self.start(
            "gateway",
            [python, "-m", "uvicorn", "blaxel_console.asgi:application",
             "--host", "127.0.0.1", "--port", str(gateway_port), "--loop", "uvloop",
             "--http", "httptools", "--no-access-log", "--log-level", "warning"],
            {**self.env, "SITE_URL": gateway_url, **self.gateway_env},
            PROXY_CORE,
        )  # fmt: skip
        self.fake.wait_for_http(f"{self.fake_url}/_fake/health")
        self.provisioned = provision.provision(
            run_id=self.run_id, fake_base_url=f"{self.fake_url}/v1"
        )
        self.say("fake up; workspace, key, connection, model API and policies created")
        self.gateway.wait_for_http(f"{gateway_url}/healthz")
        self.say("gateway up")
        self.targets = {
            "direct": loadgen.Target(
                "direct", f"{self.fake_url}/v1/chat/completions", provision.FAKE_KEY
            ),
            "gateway": loadgen.Target(
                "gateway",
                gateway_url + self.provisioned.endpoint_path(),
                self.provisioned.api_key,
                pid=self.gateway.pid,
            ),
        }
        time.sleep(1.0)  # let start-up work settle before the idle reading
        self.results["memory"]["gateway"] = {
            "idle_rss_mib": processes.memory_kib(self.gateway.pid)["VmRSS"] / MIB
        }

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()

    # --- measuring ---------------------------------------------------------------------------

    def wrk(self, target: loadgen.Target, *, stream: bool, connections: int, seconds: int):
        result = loadgen.run_wrk(
            self.wrk_path,
            target,
            stream=stream,
            connections=connections,
            seconds=seconds,
            core=FAKE_CORE,
        )
        if target.name == "gateway":
            self.usage_expected += result["sent"]
        return result

    def measure(self, target: loadgen.Target, *, stream: bool, connections: int) -> dict:
        if self.args.warmup:
            self.wrk(target, stream=stream, connections=connections, seconds=self.args.warmup)
        cpu_before = processes.cpu_seconds(target.pid) if target.pid else None
        result = self.wrk(target, stream=stream, connections=connections, seconds=self.args.seconds)
        cpu_ms = None
        if cpu_before is not None and result["requests"]:
            cpu_ms = (processes.cpu_seconds(target.pid) - cpu_before) * 1000 / result["requests"]
        run = {
            "target": target.name,
            "scenario": "stream" if stream else "chat",
            "connections": connections,
            "requests": result["requests"],
            "sent": result["sent"],
            "requests_per_second": result["requests_per_second"],
            "p50_ms": result["latency_us"]["p50"] / 1000,
            "p90_ms": result["latency_us"]["p90"] / 1000,
            "p99_ms": result["latency_us"]["p99"] / 1000,
            "max_ms": result["latency_us"]["max"] / 1000,
            "cpu_ms_per_request": cpu_ms,
            "errors": result["errors"],
            "error_detail": {
                "bad_status": result["bad_status"],
                "bad_body": result["bad_body"],
                "socket": result["socket_errors"],
                "sample": result["last_bad"],
            },
        }
        self.results["runs"].append(run)
        self.say(
            f"{target.name:8} {run['scenario']:6} c{connections:<3} "
            f"{run['requests_per_second']:9.0f} req/s  p50 {run['p50_ms']:8.2f} ms  "
            f"p99 {run['p99_ms']:8.2f} ms  errors {run['errors']}"
        )
        if run["errors"]:
            self.say(f"  errors: {run['error_detail']}")
        return run

    def measure_target(self, target: loadgen.Target) -> None:
        for stream in (False, True):
            for connections in (1, 32):
                self.measure(target, stream=stream, connections=connections)

    def first_chunk(self, target: loadgen.Target) -> None:
        calls = 5 if self.args.smoke else 50
        entry = loadgen.first_chunk_delays(
            self.fake_url,
            target,
            calls=calls,
            first_chunk_delay=self.results["settings"]["first_chunk_delay"],
        )
        if target.name == "gateway":
            self.usage_expected += calls
        self.results["first_chunk"][target.name] = entry
        self.say(
            f"first chunk via {target.name}: p50 {entry['p50_ms']:.3f} ms, "
            f"p90 {entry['p90_ms']:.3f} ms, max {entry['max_ms']:.3f} ms"
        )

    def litellm(self) -> None:
        from . import litellm_proxy, provision

        port = processes.free_port()
        process = litellm_proxy.start(
            port=port,
            fake_base_url=f"{self.fake_url}/v1",
            fake_key=provision.FAKE_KEY,
            core=PROXY_CORE,
            log_dir=self.log_dir,
        )
        self.started.append(process)
        self.results["versions"]["litellm"] = litellm_proxy.LITELLM_VERSION
        try:
            pid = processes.serving_pid(process.pid, port)
            time.sleep(2.0)
            idle = processes.memory_kib(pid)["VmRSS"] / MIB
            target = loadgen.Target(
                "litellm",
                f"http://127.0.0.1:{port}/v1/chat/completions",
                litellm_proxy.MASTER_KEY,
                pid=pid,
            )
            self.measure_target(target)
            self.first_chunk(target)
            self.results["memory"]["litellm"] = {
                "idle_rss_mib": idle,
                "peak_rss_mib": processes.memory_kib(pid)["VmHWM"] / MIB,
            }
        finally:
            process.stop()

    def soak(self, calls_wanted: int) -> None:
        """Plain and streamed calls in turns (10 s wrk runs, 32 connections) until
        `calls_wanted` calls completed after a warm-up run; RSS after warm-up and at the
        end. Bounded in time: it stops after 30 minutes whatever the count."""
        gateway = self.targets["gateway"]
        warmup = self.wrk(gateway, stream=False, connections=32, seconds=5)
        errors = warmup["errors"]
        rss_warm = processes.memory_kib(gateway.pid)["VmRSS"] / MIB
        samples = [rss_warm]
        calls, seconds, stream = 0, 0.0, False
        deadline = time.monotonic() + 30 * 60
        while calls < calls_wanted and time.monotonic() < deadline:
            result = self.wrk(gateway, stream=stream, connections=32, seconds=10)
            calls += result["requests"]
            seconds += result["duration_us"] / 1e6
            errors += result["errors"]
            samples.append(processes.memory_kib(gateway.pid)["VmRSS"] / MIB)
            stream = not stream
        rss_end = samples[-1]
        self.results["soak"] = {
            "calls_wanted": calls_wanted,
            "calls": calls,
            "requests_per_second": calls / seconds if seconds else 0.0,
            "errors": errors,
            "rss_after_warmup_mib": rss_warm,
            "rss_end_mib": rss_end,
            "rss_samples_mib": [round(sample, 1) for sample in samples],
            "growth_percent": (rss_end - rss_warm) / rss_warm * 100,
        }
        print(
            f"  soak: {calls:,} calls, RSS {rss_warm:.1f} → {rss_end:.1f} MiB, errors {errors}",
            flush=True,
        )

    def wait_for_usage(self) -> None:
        from . import provision

        workspace_id = self.provisioned.workspace_id
        expected = self.usage_expected
        timeout = 60 + expected / 1000
        started = time.monotonic()
        arrived = provision.usage_record_count(workspace_id)
        while arrived < expected and time.monotonic() - started < timeout:
            time.sleep(0.5)
            arrived = provision.usage_record_count(workspace_id)
        self.results["usage"] = {
            "expected": expected,
            "arrived": arrived,
            "waited_s": round(time.monotonic() - started, 1),
            "by_status": provision.usage_status_counts(workspace_id),
        }
        self.say(f"usage records: {arrived:,} of {expected:,} arrived")

    def run(self) -> dict:
        self.say(f"benchmark {self.run_id}: setting up (logs in {self.log_dir})")
        self.setup()
        self.say("measuring")
        self.measure_target(self.targets["direct"])
        self.measure_target(self.targets["gateway"])
        self.results["memory"]["gateway"]["peak_rss_mib"] = (
            processes.memory_kib(self.gateway.pid)["VmHWM"] / MIB
        )
        self.first_chunk(self.targets["direct"])
        self.first_chunk(self.targets["gateway"])
        if not self.args.skip_litellm:
            self.litellm()
        if self.args.soak:
            self.soak(self.args.soak)
            self.results["memory"]["gateway"]["peak_rss_after_soak_mib"] = (
                processes.memory_kib(self.gateway.pid)["VmHWM"] / MIB
            )
        self.wait_for_usage()
        self.results["load_average_at_end"] = environment.load_average()
        report.add_relative_figures(self.results)
        self.results["targets"] = report.evaluate_targets(self.results)
        return self.results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench = Bench(args)
    try:
        results = bench.run()
        if args.keep_running:
            print(f"fake: {bench.fake_url}  gateway: {bench.targets['gateway'].url}")
            print(f"key: {bench.provisioned.api_key}  (Ctrl-C stops)", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        bench.stop_all()
    full = not args.smoke and not args.skip_litellm and args.soak >= 100_000
    if args.output:
        directory, stem = args.output, "smoke" if args.smoke else "latest"
    elif full:
        directory, stem = RESULTS_DIR, "latest"
    else:
        directory, stem = bench.log_dir, "result"
    json_path, markdown_path = report.write(results, directory, stem)
    print()
    print(report.markdown(results))
    print(f"written: {json_path}, {markdown_path}")
    if args.smoke:
        # The smoke run checks that everything works, not how fast.
        checks = [check for check in results["targets"] if "succeeds" in check["target"]]
        checks += [check for check in results["targets"] if "usage record" in check["target"]]
    else:
        checks = results["targets"]
    return 1 if any(check["passed"] is False for check in checks) else 0
