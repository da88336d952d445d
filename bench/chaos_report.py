"""The chaos run's accounting (every call matched to exactly one usage record whose status
is its fault's), its resource figures, checks, markdown table and files.

Runs inside Django (`django.setup()` done by the caller, on the run's database).
"""

import json
import statistics
import time
from importlib import metadata
from pathlib import Path

RSS_TOLERANCE_PERCENT = 10.0  # RSS after the run at most this much above the baseline
FD_TOLERANCE = 4  # open fds after the run (Redis pool aside) at most this many above baseline
RECORD_FIELDS = (
    "request_id",
    "status_code",
    "error_type",
    "tokens_estimated",
    "streamed",
    "total_tokens",
)


def versions() -> dict:
    from django.db import connection

    found = {
        name: metadata.version(name)
        for name in ("django", "uvicorn", "httpx", "aiohttp", "celery", "openai")
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            found["postgresql"] = cursor.fetchone()[0].split()[0]
    from blaxel_console import redis

    if redis.is_configured():
        found["redis"] = redis.sync_client().info("server")["redis_version"]
    return found


def describe_faults(faults) -> list[dict]:
    return [
        {
            "fault": fault.name,
            "weight": fault.weight,
            "stream": fault.stream,
            "x_fake_fault": fault.header,
            "record_status": fault.status,
            "record_error_type": fault.error_type,
            "tokens_estimated": fault.estimated,
            "client_sees": fault.outcome,
        }
        for fault in faults
    ]


def summarize_samples(samples: list[dict]) -> dict:
    if not samples:
        return {"samples": 0}
    kinds = sorted({kind for sample in samples for kind in sample["fd_kinds"]})
    return {
        "samples": len(samples),
        "rss_max_mib": max(sample["rss_mib"] for sample in samples),
        "fds_max": max(sample["fds"] for sample in samples),
        "fd_kinds_max": {
            kind: max(sample["fd_kinds"].get(kind, 0) for sample in samples) for kind in kinds
        },
    }


# --- accounting ---------------------------------------------------------------------------------


def _records(workspace_id: int, expected: int) -> list[dict]:
    """The workspace's usage records once `expected` have arrived and no more come for 3 s
    (a late double would show); what there is when the wait times out."""
    from django.db import close_old_connections

    from models_api.usage.models import UsageRecord

    def count() -> int:
        close_old_connections()
        return UsageRecord.objects.filter(workspace_id=workspace_id).count()

    deadline = time.monotonic() + 60 + expected / 500
    arrived = count()
    while arrived < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        arrived = count()
    for _ in range(6):
        time.sleep(0.5)
        arrived = max(arrived, count())
    return list(UsageRecord.objects.filter(workspace_id=workspace_id).values(*RECORD_FIELDS))


def _rollup_requests(workspace_id: int) -> int:
    from django.db.models import Sum

    from models_api.usage.models import UsageRollup

    total = UsageRollup.objects.filter(workspace_id=workspace_id).aggregate(n=Sum("requests"))
    return total["n"] or 0


def record_mismatch(call: dict, fault, record: dict) -> str:
    """'' when the record says what the call's fault should leave; else what differs."""
    wrong = []
    if record["status_code"] != fault.status:
        wrong.append(f"status {record['status_code']}")
    if record["error_type"] != fault.error_type:
        wrong.append(f"error_type {record['error_type']!r}")
    if record["tokens_estimated"] != fault.estimated:
        wrong.append(f"tokens_estimated {record['tokens_estimated']}")
    if fault.status == 200 and record["total_tokens"] <= 0:
        wrong.append("no tokens")
    if fault.outcome == "ok" and record["streamed"] != call["stream"]:
        wrong.append(f"streamed {record['streamed']}")
    # A caller that hung up saw the stream's 200; its record says 499 (client closed).
    if (
        fault.outcome != "disconnected"
        and call["status"] is not None
        and call["status"] != record["status_code"]
    ):
        wrong.append(f"the client saw {call['status']}")
    return ", ".join(wrong)


def account(calls: list[dict], faults, *, workspace_id: int) -> dict:
    """Match every call (by the X-Blaxel-Request-Id it was answered with) to the usage
    records; each call gets `record`: match, missing, no request id or `wrong: …`."""
    by_name = {fault.name: fault for fault in faults}
    records = _records(workspace_id, len(calls))
    by_id: dict[str, dict] = {}
    doubled_records = 0
    for record in records:
        if record["request_id"] in by_id:
            doubled_records += 1
        by_id[record["request_id"]] = record
    seen_ids: set[str] = set()
    duplicate_call_ids = 0
    for call in calls:
        request_id = call["request_id"]
        if not request_id:
            call["record"] = "no request id"
            continue
        if request_id in seen_ids:
            duplicate_call_ids += 1
        seen_ids.add(request_id)
        record = by_id.get(request_id)
        if record is None:
            call["record"] = "missing"
            continue
        mismatch = record_mismatch(call, by_name[call["fault"]], record)
        call["record"] = f"wrong: {mismatch}" if mismatch else "match"
    verdicts = [call["record"] for call in calls]
    return {
        "calls": len(calls),
        "records": len(records),
        "matched": verdicts.count("match"),
        "missing": verdicts.count("missing"),
        "without_request_id": verdicts.count("no request id"),
        "wrong_status": sum(verdict.startswith("wrong") for verdict in verdicts),
        "wrong_samples": sorted({v for v in verdicts if v.startswith("wrong")})[:10],
        "records_of_no_call": len(set(by_id) - seen_ids),
        "doubled_records": doubled_records,
        "duplicate_call_ids": duplicate_call_ids,
        "rollup_requests": _rollup_requests(workspace_id),
        "client_unexpected": sum(call["outcome"].startswith("unexpected") for call in calls),
        "client_unexpected_samples": sorted(
            {call["outcome"] for call in calls if call["outcome"].startswith("unexpected")}
        )[:10],
    }


def per_fault(calls: list[dict], faults) -> list[dict]:
    rows = []
    for fault in faults:
        mine = [call for call in calls if call["fault"] == fault.name]
        rows.append(
            {
                "fault": fault.name,
                "calls": len(mine),
                "streamed": sum(call["stream"] for call in mine),
                "client_as_expected": sum(call["outcome"] == fault.outcome for call in mine),
                "records_matched": sum(call.get("record") == "match" for call in mine),
                "median_ms": statistics.median(call["ms"] for call in mine) if mine else None,
                "record_status": fault.status,
                "record_error_type": fault.error_type or "–",
            }
        )
    return rows


# --- checks and output -----------------------------------------------------------------------


def _check(name: str, value, limit, passed: bool) -> dict:
    return {"check": name, "value": value, "limit": limit, "passed": passed}


def checks(results: dict) -> list[dict]:
    accounting = results["accounting"]
    resources = results["resources"]
    before, after = resources["before"], resources["after"]
    calls = accounting["calls"]
    rss_growth = (after["rss_mib"] - before["rss_mib"]) / before["rss_mib"] * 100
    injected = [row for row in results["per_fault"] if row["calls"] == 0]
    connections = results["settings"]["connections"]
    before_pool = before["fds"] - before["fds_outside_redis_pool"]
    after_pool = after["fds"] - after["fds_outside_redis_pool"]
    return [
        _check(
            "every planned call was made",
            results["run"]["calls"],
            results["settings"]["calls"],
            results["run"]["calls"] == results["settings"]["calls"],
        ),
        _check(
            "every fault was injected",
            len(results["per_fault"]) - len(injected),
            len(results["per_fault"]),
            not injected,
        ),
        _check(
            "the client saw what each fault should give (error, clean end, usage)",
            accounting["client_unexpected"],
            0,
            accounting["client_unexpected"] == 0,
        ),
        _check(
            "every call matched exactly one usage record with its fault's status",
            accounting["matched"],
            calls,
            accounting["matched"] == calls and accounting["duplicate_call_ids"] == 0,
        ),
        _check(
            "no usage record without its call, none doubled",
            accounting["records"],
            calls,
            accounting["records"] == calls
            and accounting["records_of_no_call"] == 0
            and accounting["doubled_records"] == 0,
        ),
        _check(
            "the per-minute rollups count every record once",
            accounting["rollup_requests"],
            accounting["records"],
            accounting["rollup_requests"] == accounting["records"],
        ),
        _check(
            f"gateway RSS back within {RSS_TOLERANCE_PERCENT:g}% of its baseline (MiB)",
            f"{before['rss_mib']:.1f} → {after['rss_mib']:.1f} ({rss_growth:+.1f}%)",
            f"≤ {before['rss_mib'] * (1 + RSS_TOLERANCE_PERCENT / 100):.1f}",
            rss_growth <= RSS_TOLERANCE_PERCENT,
        ),
        _check(
            f"gateway open fds back to baseline (+{FD_TOLERANCE}), Redis's pool aside",
            f"{before['fds_outside_redis_pool']} → {after['fds_outside_redis_pool']}",
            f"≤ {before['fds_outside_redis_pool'] + FD_TOLERANCE}",
            after["fds_outside_redis_pool"] <= before["fds_outside_redis_pool"] + FD_TOLERANCE,
        ),
        _check(
            "gateway's Redis pool at most one connection per caller connection over baseline",
            f"{before_pool} → {after_pool}",
            f"≤ {before_pool + connections}",
            after_pool <= before_pool + connections,
        ),
    ]


def markdown(results: dict) -> str:
    machine, settings = results["machine"], results["settings"]
    accounting, resources, run = results["accounting"], results["resources"], results["run"]
    versions_line = ", ".join(f"{name} {value}" for name, value in results["versions"].items())
    lines = [
        f"Chaos run, {machine['date']}: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory_gib']} GiB, Python {machine['python']}, Linux {machine['kernel']}; "
        f"{results['backend']}; load average at start "
        f"{', '.join(str(value) for value in machine['load_average_at_start'])}, at end "
        f"{', '.join(str(value) for value in results.get('load_average_at_end', []))}.",
        f"{versions_line}.",
        f"{run['calls']:,} calls at {settings['connections']} connections in {run['seconds']} s "
        f"({run['calls_per_second']} calls/s; the openai SDK, no retries), after "
        f"{settings['warmup_calls']:,} warm-up calls of the same mix; gateway read timeout "
        f"{settings['gateway_read_timeout_s']:g} s; the client, the fake and the Celery worker "
        "on core 0, the gateway alone on core 1.",
        "",
        "| fault | calls | streamed | client saw the right answer | records matched "
        "| record status | record error | median ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for row in results["per_fault"]:
        median = "–" if row["median_ms"] is None else f"{row['median_ms']:,.0f}"
        lines.append(
            f"| {row['fault']} | {row['calls']:,} | {row['streamed']:,} "
            f"| {row['client_as_expected']:,} | {row['records_matched']:,} "
            f"| {row['record_status']} | {row['record_error_type']} | {median} |"
        )
    lines += [
        "",
        f"Usage records (warm-up included): {accounting['calls']:,} calls, "
        f"{accounting['records']:,} records, {accounting['matched']:,} matched with the right "
        f"status; {accounting['missing']} missing, {accounting['wrong_status']} with another "
        f"status, {accounting['records_of_no_call']} without a call, "
        f"{accounting['without_request_id']} calls without a request id; rollups count "
        f"{accounting['rollup_requests']:,} requests.",
        "",
        "| gateway | idle | baseline (after warm-up) | during (max) | after |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| RSS MiB | {resources['idle']['rss_mib']:.1f} | {resources['before']['rss_mib']:.1f} "
        f"| {resources['during'].get('rss_max_mib', 0):.1f} "
        f"| {resources['after']['rss_mib']:.1f} |",
        f"| open fds | {resources['idle']['fds']} | {resources['before']['fds']} "
        f"| {resources['during'].get('fds_max', 0)} | {resources['after']['fds']} |",
        "",
        f"Open fds by kind: baseline {resources['before']['fd_kinds']}, during (max) "
        f"{resources['during'].get('fd_kinds_max')}, after {resources['after']['fd_kinds']}.",
        "",
        "| check | value | limit | met |",
        "| --- | ---: | ---: | --- |",
    ]
    for check in results["checks"]:
        met = "yes" if check["passed"] else "**NO**"
        lines.append(f"| {check['check']} | {check['value']} | {check['limit']} | {met} |")
    for name in ("wrong_samples", "client_unexpected_samples"):
        if accounting[name]:
            lines += ["", f"{name}: {accounting[name]}"]
    return "\n".join(lines) + "\n"


def write(results: dict, directory: Path, stem: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = directory / f"{stem}.json", directory / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    markdown_path.write_text(markdown(results))
    return json_path, markdown_path


def write_calls(calls: list[dict], path: Path) -> None:
    """One JSON line per call (phase, fault, stream, request id, status, outcome, record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for call in calls:
            out.write(json.dumps(call) + "\n")
