"""Process gauges on /metrics: read at each scrape, labelled with the process, and a gauge
that fails to read leaves the others (and the scrape) intact."""

import os

from blaxel_console import gauges


def test_gauges_are_read_at_render_time_with_the_process_label(monkeypatch):
    monkeypatch.setattr(gauges, "_registry", {})
    value = {"now": 1}
    gauges.register("test_plain", "A plain gauge.", lambda: value["now"])
    gauges.register("test_labelled", "A labelled one.", lambda: {(("state", "idle"),): 3})

    def broken():
        raise RuntimeError("cannot read")

    gauges.register("test_broken", "Fails.", broken)
    pid = os.getpid()
    assert f'test_plain{{pid="{pid}"}} 1' in gauges.render()
    value["now"] = 5
    text = gauges.render()
    assert f'test_plain{{pid="{pid}"}} 5' in text
    assert "# TYPE test_labelled gauge" in text
    assert f'test_labelled{{pid="{pid}",state="idle"}} 3' in text
    assert "test_broken" not in text


def test_the_gateway_registers_its_gauges():
    from models_api.gateway import metrics  # noqa: F401 - registers at import

    text = gauges.render()
    for name in (
        "blaxel_gateway_calls_in_flight",
        "blaxel_gateway_upstream_connections",
        "blaxel_gateway_event_loop_tasks",
    ):
        assert f"# TYPE {name} gauge" in text
