"""The gateway's gauges on `GET /metrics` (`blaxel_console.gauges`): calls in flight, open
connections to providers, tasks on the event loop. An operator sees a process that holds
more than its traffic explains; the fault suite reads the same gauges to prove that no
call, connection or task outlives a fault.

A call is in flight from its admission (`views.Call`) until its usage record is handed
to the pipeline: one integer up and down per call.
"""

from blaxel_console import gauges

from . import upstream


class _InFlight:
    count = 0


def call_started() -> None:
    _InFlight.count += 1


def call_recorded() -> None:
    _InFlight.count -= 1


def calls_in_flight() -> int:
    return _InFlight.count


gauges.register(
    "blaxel_gateway_calls_in_flight",
    "Gateway calls admitted whose usage record is not written yet.",
    calls_in_flight,
)
gauges.register(
    "blaxel_gateway_upstream_connections",
    "Open connections to providers: in use by a call (active) or pooled (idle).",
    upstream.connection_counts,
)
gauges.register(
    "blaxel_gateway_event_loop_tasks",
    "Asyncio tasks alive on the event loop serving gateway calls.",
    upstream.event_loop_tasks,
)
