"""What a provider's refusal may put in a connection's status message, which members
read and can refresh: its status and, when the body is the provider's JSON error shape,
its message — never a raw body."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.catalog import ProviderRejected, ProviderUnreachable, fetch_live_models

KEY = "sk-proj-Zq81testSecretValue0000a1b2"
RAW_PAGE = b"<html><body><h1>Admin console</h1><p>internal-db.corp:5432 password=hunter2</p>"

pytestmark = pytest.mark.django_db


@pytest.fixture
def upstream():
    """A server at a connection's base URL answering each path as told."""
    answers: dict[str, tuple[int, str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            status, content_type, body = answers[self.path]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", answers
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [401, 403, 404, 500, 503])
def test_a_raw_body_never_reaches_the_message(make_connection, upstream, status):
    url, answers = upstream
    answers["/v1/models"] = (status, "text/html", RAW_PAGE)
    connection = make_connection(key=KEY, base_url=f"{url}/v1")
    with pytest.raises((ProviderRejected, ProviderUnreachable)) as error:
        fetch_live_models(connection)
    message = str(error.value)
    assert "hunter2" not in message and "Admin console" not in message
    if status >= 500:
        assert message == f"unreachable: the provider answered {status}"
    else:
        assert message == "" and error.value.status_code == status


def test_the_providers_json_error_message_is_kept(make_connection, upstream):
    url, answers = upstream
    body = {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}}
    answers["/v1/models"] = (401, "application/json", json.dumps(body).encode())
    connection = make_connection(key=KEY, base_url=f"{url}/v1")
    with pytest.raises(ProviderRejected) as error:
        fetch_live_models(connection)
    assert str(error.value) == "Incorrect API key provided."
