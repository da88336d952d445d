"""Logging filters: secrets that travel in URLs never reach a log line.

An invitation's token is the last part of the link emailed to the invited person
(`/invitations/<token>/`); whoever reads it can accept the invitation. The web server's
access log and Django's request warnings print paths, so every log line the project
writes passes through `RedactUrlSecrets`."""

import logging
import re

_INVITATION_TOKEN = re.compile(r"(/invitations/)(?!\d+/accept/)([^/\s?#\"']+)")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _INVITATION_TOKEN.sub(rf"\1{REDACTED}", text)


class RedactUrlSecrets(logging.Filter):
    """Rewrites a record whose message carries a secret-bearing URL; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's to report
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_on_server_loggers() -> None:
    """The ASGI server's own loggers (uvicorn's access and error logs) keep their
    handlers; the filter joins them there."""
    for name in ("uvicorn.access", "uvicorn.error", "django.request", "django.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(item, RedactUrlSecrets) for item in logger.filters):
            logger.addFilter(RedactUrlSecrets())
