"""No invitation token in any log line the project writes: the ASGI server's access log
and Django's request warnings print paths, and the path of an emailed invitation link
carries its token."""

import logging

import httpx
import pytest

from blaxel_console.log_filters import REDACTED, RedactUrlSecrets, redact
from blaxel_console.testing.servers import log_path_of, run_asgi_server

TOKEN = "sBLGt-Isnf-ao9eBs3wYg4ww2CRlO3J0fX_aubFsnvk"


def test_redact_hides_the_token_and_keeps_the_rest():
    line = f'127.0.0.1:5000 - "GET /invitations/{TOKEN}/ HTTP/1.1" 404'
    assert redact(line) == f'127.0.0.1:5000 - "GET /invitations/{REDACTED}/ HTTP/1.1" 404'
    assert redact("POST /invitations/12/accept/ 302") == "POST /invitations/12/accept/ 302"


def test_the_filter_rewrites_formatted_records():
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s",
        (f"/invitations/{TOKEN}/",),
        None,
    )
    assert RedactUrlSecrets().filter(record) is True
    assert TOKEN not in record.getMessage() and REDACTED in record.getMessage()


@pytest.mark.live
def test_a_live_server_logs_invitation_links_without_their_token(transactional_db, invitation):
    _, token = invitation
    with run_asgi_server(access_log=True) as url:
        assert httpx.get(f"{url}/invitations/{token}/").status_code == 200
        assert httpx.get(f"{url}/invitations/{TOKEN}/").status_code == 404  # unknown: warned
    log = log_path_of(url).read_text()
    assert "/invitations/" in log and REDACTED in log
    assert token not in log and TOKEN not in log
