"""The benchmark's results: target checks, one markdown table, the JSON file."""

import json
from pathlib import Path

TARGET_LABELS = {"direct": "direct to the fake", "gateway": "our gateway", "litellm": "LiteLLM"}
SCENARIO_LABELS = {"chat": "chat", "stream": "chat, streamed (20 chunks + usage)"}


def _run(results: dict, target: str, scenario: str, connections: int) -> dict | None:
    for run in results["runs"]:
        if (run["target"], run["scenario"], run["connections"]) == (target, scenario, connections):
            return run
    return None


def add_relative_figures(results: dict) -> None:
    """Added latency over direct (p50, p99) for every proxied run."""
    for run in results["runs"]:
        direct = _run(results, "direct", run["scenario"], run["connections"])
        if run["target"] == "direct" or direct is None:
            run["added_p50_ms"] = run["added_p99_ms"] = None
            continue
        run["added_p50_ms"] = run["p50_ms"] - direct["p50_ms"]
        run["added_p99_ms"] = run["p99_ms"] - direct["p99_ms"]


def _check(name: str, value, limit, passed, unit: str = "") -> dict:
    return {"target": name, "value": value, "limit": limit, "unit": unit, "passed": passed}


def _ratio_check(name, ours, theirs, *, at_least=None, at_most=None, unit=""):
    """ours / theirs against a ratio; None (not measured) when either side is missing."""
    if ours is None or theirs is None or theirs <= 0:
        return _check(name, None, at_least or at_most, None, unit)
    ratio = ours / theirs
    passed = ratio >= at_least if at_least is not None else ratio <= at_most
    return _check(name, round(ratio, 3), at_least or at_most, passed, unit)


def evaluate_targets(results: dict) -> list[dict]:
    """The benchmark's targets, each: value, limit, passed (None = not measured in this run)."""
    checks = []

    def figure(target, scenario, connections, key):
        run = _run(results, target, scenario, connections)
        return run[key] if run else None

    checks.append(
        _ratio_check(
            "chat, 32 connections: gateway req/s ÷ LiteLLM req/s ≥ 5",
            figure("gateway", "chat", 32, "requests_per_second"),
            figure("litellm", "chat", 32, "requests_per_second"),
            at_least=5,
            unit="×",
        )
    )
    checks.append(
        _ratio_check(
            "streamed, 32 connections: gateway req/s ÷ LiteLLM req/s ≥ 10",
            figure("gateway", "stream", 32, "requests_per_second"),
            figure("litellm", "stream", 32, "requests_per_second"),
            at_least=10,
            unit="×",
        )
    )
    for scenario, label in (("chat", "chat"), ("stream", "streamed")):
        checks.append(
            _ratio_check(
                f"{label}, 1 connection: added p50 ÷ LiteLLM's ≤ 1/4",
                figure("gateway", scenario, 1, "added_p50_ms"),
                figure("litellm", scenario, 1, "added_p50_ms"),
                at_most=0.25,
                unit="×",
            )
        )
        checks.append(
            _ratio_check(
                f"{label}, 1 connection: added p99 ÷ LiteLLM's ≤ 1/3",
                figure("gateway", scenario, 1, "added_p99_ms"),
                figure("litellm", scenario, 1, "added_p99_ms"),
                at_most=1 / 3,
                unit="×",
            )
        )
    first_chunk = results.get("first_chunk") or {}
    gateway, direct = first_chunk.get("gateway"), first_chunk.get("direct")
    for percentile in ("p50", "p90"):
        key = f"{percentile}_ms"
        added = gateway[key] - direct[key] if gateway and direct else None
        checks.append(
            _check(
                f"first chunk: gateway adds ≤ 2 ms ({percentile}) after the fake sends it",
                None if added is None else round(added, 3),
                2.0,
                None if added is None else added <= 2.0,
                "ms",
            )
        )
    memory = results.get("memory") or {}
    checks.append(
        _ratio_check(
            "peak RSS: gateway ÷ LiteLLM ≤ 1/2",
            (memory.get("gateway") or {}).get("peak_rss_mib"),
            (memory.get("litellm") or {}).get("peak_rss_mib"),
            at_most=0.5,
            unit="×",
        )
    )
    soak = results.get("soak")
    if soak and soak.get("growth_percent") is not None:
        checks.append(
            _check(
                f"soak of {soak['calls']:,} calls: RSS growth after warm-up < 10%",
                round(soak["growth_percent"], 2),
                10,
                soak["growth_percent"] < 10 and soak["calls"] >= soak["calls_wanted"],
                "%",
            )
        )
    else:
        checks.append(_check("soak: RSS growth after warm-up < 10%", None, 10, None, "%"))
    errors = sum(run["errors"] for run in results["runs"] if run["target"] != "litellm")
    errors += (soak or {}).get("errors", 0)
    errors += sum(
        entry["calls"] - entry["completed"]
        for name, entry in first_chunk.items()
        if name != "litellm" and entry
    )
    checks.append(_check("every call to the fake and the gateway succeeds", errors, 0, errors == 0))
    usage = results.get("usage") or {}
    checks.append(
        _check(
            "every gateway call's usage record arrives",
            usage.get("arrived"),
            usage.get("expected"),
            usage.get("arrived") == usage.get("expected") and usage.get("expected", 0) > 0,
        )
    )
    return checks


# --- output -----------------------------------------------------------------------------------


def _number(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def markdown(results: dict) -> str:
    machine = results["machine"]
    lines = [
        f"Gateway benchmark ({results['mode']}), {machine['date']}: {machine['cpu']}, "
        f"{machine['cores']} cores, {machine['memory_gib']} GiB, Python {machine['python']}, "
        f"Linux {machine['kernel']}; {results['backend']}; load average at start "
        f"{', '.join(str(value) for value in machine['load_average_at_start'])}, at end "
        f"{', '.join(str(value) for value in results.get('load_average_at_end', []))}.",
        f"wrk -t1 and the fake on core 0, the proxy measured on core 1 (one worker); "
        f"{results['settings']['seconds']} s per run after {results['settings']['warmup']} s "
        f"of warm-up. LiteLLM {results['versions'].get('litellm') or 'not measured'}.",
        "",
        "| target | call | conns | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| CPU ms/call | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in results["runs"]:
        lines.append(
            f"| {TARGET_LABELS[run['target']]} | {SCENARIO_LABELS[run['scenario']]} "
            f"| {run['connections']} | {_number(run['requests_per_second'], 0)} "
            f"| {_number(run['p50_ms'])} | {_number(run['p99_ms'])} "
            f"| {_number(run['added_p50_ms'])} | {_number(run['added_p99_ms'])} "
            f"| {_number(run['cpu_ms_per_request'], 3)} | {run['errors']} |"
        )
    memory = results.get("memory") or {}
    if memory:
        lines += ["", "| process | RSS idle MiB | peak RSS MiB (VmHWM) |", "| --- | ---: | ---: |"]
        for name, figures in memory.items():
            lines.append(
                f"| {TARGET_LABELS.get(name, name)} | {_number(figures.get('idle_rss_mib'), 1)} "
                f"| {_number(figures.get('peak_rss_mib'), 1)} |"
            )
    first_chunk = results.get("first_chunk") or {}
    if first_chunk:
        delay = results["settings"]["first_chunk_delay"]
        lines += [
            "",
            f"First chunk (the fake holds it {delay * 1000:.0f} ms): from the fake sending it "
            "to the client receiving it.",
            "",
            "| through | calls | p50 ms | p90 ms | max ms |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, entry in first_chunk.items():
            lines.append(
                f"| {TARGET_LABELS.get(name, name)} | {entry['calls']} | "
                f"{_number(entry['p50_ms'], 3)} | {_number(entry['p90_ms'], 3)} | "
                f"{_number(entry['max_ms'], 3)} |"
            )
    soak = results.get("soak")
    if soak:
        lines += [
            "",
            f"Soak: {soak['calls']:,} calls through the gateway (plain and streamed, "
            f"32 connections, {_number(soak['requests_per_second'], 0)} req/s, "
            f"{soak['errors']} errors): RSS {_number(soak['rss_after_warmup_mib'], 1)} MiB "
            f"after warm-up, {_number(soak['rss_end_mib'], 1)} MiB at the end "
            f"({soak['growth_percent']:+.2f}%).",
        ]
    usage = results.get("usage") or {}
    if usage:
        lines += [
            "",
            f"Usage records: {usage['arrived']:,} of {usage['expected']:,} gateway calls "
            f"arrived in the database (statuses {usage.get('by_status', {})}).",
        ]
    lines += ["", "| target | value | limit | met |", "| --- | ---: | ---: | --- |"]
    for check in results["targets"]:
        met = {True: "yes", False: "**NO**", None: "not measured"}[check["passed"]]
        unit = check["unit"]
        value = "–" if check["value"] is None else f"{_number(check['value'], 3)}{unit}"
        limit = "–" if check["limit"] is None else f"{_number(check['limit'], 3)}{unit}"
        lines.append(f"| {check['target']} | {value} | {limit} | {met} |")
    return "\n".join(lines) + "\n"


def write(results: dict, directory: Path, stem: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{stem}.json"
    markdown_path = directory / f"{stem}.md"
    json_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    markdown_path.write_text(markdown(results))
    return json_path, markdown_path
