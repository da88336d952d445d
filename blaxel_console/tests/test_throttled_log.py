"""Warnings about an outage: one line now and then, never a traceback per call."""

import logging
import uuid

from blaxel_console import throttled_log


def test_an_outage_is_logged_once_per_interval_with_how_many_lines_were_left_out(
    caplog, monkeypatch
):
    # Made here, not at import: a logging configuration applied meanwhile (some tools'
    # command-line entry points apply one) disables the loggers that existed before it.
    logger = logging.getLogger(f"blaxel_console.tests.throttled_log.{uuid.uuid4().hex}")
    message = f"Redis unreachable: {uuid.uuid4().hex}"
    with caplog.at_level(logging.WARNING, logger=logger.name):
        for _ in range(50):
            throttled_log.warn_now_and_then(logger, message)
        assert [record.getMessage() for record in caplog.records] == [message]
        assert all(record.exc_info is None for record in caplog.records)

        monkeypatch.setattr(throttled_log, "INTERVAL_SECONDS", 0.0)
        throttled_log.warn_now_and_then(logger, message)
    assert caplog.records[-1].getMessage() == (
        f"{message} (49 more like this since the last such line)"
    )
