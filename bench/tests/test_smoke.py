"""The benchmark's smoke mode, as CI runs it: `python -m bench --smoke` sets everything up
itself (the fake, the gateway under uvicorn on its own core, a Celery worker when Redis is
configured, a workspace, key, connection, model API and policies made by the project's
services), sends a few seconds of wrk load directly and through the gateway, probes the
first streamed chunk, and counts the usage records. This test checks that it ran and
that every call succeeded; it asserts nothing about speed."""

import json
import subprocess
import sys

import pytest

from blaxel_console.testing import database
from blaxel_console.testing.run import ROOT

pytestmark = pytest.mark.live

RUNS = {
    (target, scenario, connections)
    for target in ("direct", "gateway")
    for scenario in ("chat", "stream")
    for connections in (1, 32)
}


@pytest.fixture
def smoke_result(transactional_db, tmp_path):
    """Runs the smoke benchmark on this test run's database (its data is committed, so
    the benchmark's processes see it; the test's teardown empties the tables)."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--database-url", database.test_database_url(),
         "--output", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-5000:]
    return json.loads((tmp_path / "smoke.json").read_text()), output


def test_smoke_run_succeeds_on_every_call(smoke_result):
    result, output = smoke_result
    assert result["mode"] == "smoke"
    assert {(run["target"], run["scenario"], run["connections"]) for run in result["runs"]} == RUNS
    for run in result["runs"]:
        where = f"{run['target']} {run['scenario']} c{run['connections']}"
        assert run["requests"] > 0, where
        # Every call written got its full answer: no error, nothing cut off.
        assert run["errors"] == 0, (where, run["error_detail"])
        assert run["sent"] == run["requests"], where
    # The streamed first chunk went through both ways and every stream completed.
    for target in ("direct", "gateway"):
        probe = result["first_chunk"][target]
        assert probe["calls"] > 0
        assert probe["completed"] == probe["calls"], target
    # Every gateway call left a usage record in the database, all of them answered 200.
    usage = result["usage"]
    assert usage["expected"] > 0
    assert usage["arrived"] == usage["expected"]
    assert usage["by_status"] == {"200": usage["expected"]}
    # The gateway's memory and CPU were read from /proc, and the table was printed.
    assert result["memory"]["gateway"]["peak_rss_mib"] > 0
    gateway_runs = [run for run in result["runs"] if run["target"] == "gateway"]
    assert all(run["cpu_ms_per_request"] is not None for run in gateway_runs)
    assert "| our gateway | chat | 32 |" in output
