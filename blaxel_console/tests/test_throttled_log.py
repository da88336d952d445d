"""Warnings about an outage: one line now and then, never a traceback per call."""

import logging
import uuid

from blaxel_console import throttled_log

logger = logging.getLogger("blaxel_console.tests.throttled_log")


def test_an_outage_is_logged_once_per_interval_with_how_many_lines_were_left_out(
    caplog, monkeypatch
):
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
