"""Gauges of this process for `GET /metrics`: what a web process holds right now (calls
in flight, open connections to providers), as opposed to the durable counters that every
process reads alike from the rollups.

A module registers a gauge once, at import, with a function that reads it; reading is
left to the scrape, so the code that the gauge watches pays nothing per call beyond
keeping its own figures. Samples carry the process id (`pid` label): behind a load
balancer each scrape reaches one process, and its figures are that process's only.
"""

import logging
import os
from collections.abc import Callable

logger = logging.getLogger(__name__)

# A reader answers one number, or {labels tuple-of-pairs: number} for labelled samples.
Reading = float | int | dict[tuple[tuple[str, str], ...], float | int]

_registry: dict[str, tuple[str, Callable[[], Reading]]] = {}


def register(name: str, help_text: str, read: Callable[[], Reading]) -> None:
    """Add (or replace) the gauge `name`."""
    _registry[name] = (help_text, read)


def _sample(name: str, labels: tuple[tuple[str, str], ...], value) -> str:
    pairs = (("pid", str(os.getpid())), *labels)
    inner = ",".join(f'{key}="{label}"' for key, label in pairs)
    return f"{name}{{{inner}}} {value!r}"


def render() -> str:
    """The exposition text of every registered gauge, read now."""
    lines = []
    for name, (help_text, read) in sorted(_registry.items()):
        try:
            reading = read()
        except Exception:  # a gauge must never break the scrape
            logger.exception("gauges: %s could not be read", name)
            continue
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        samples = reading.items() if isinstance(reading, dict) else [((), reading)]
        lines += [_sample(name, labels, value) for labels, value in samples]
    return "\n".join(lines) + "\n" if lines else ""
