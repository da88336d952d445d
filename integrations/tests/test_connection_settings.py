"""What a connection's settings may hold: no control characters (they become request
headers), a base URL that is an API root (no query, fragment or user info), and a move
to another host only with the key presented again, audited."""

import pytest
from django.core.exceptions import ValidationError

from integrations import services
from workspaces.models import AuditLogEntry

KEY = "sk-proj-Zq81testSecretValue0000a1b2"

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "setting",
    [
        {"organization": "org-1\r\nX-Injected: yes"},
        {"project": "proj_1\nX-Injected: yes"},
        {"organization": "org-1\x00"},
    ],
)
def test_control_characters_in_a_setting_are_a_field_error(make_connection, setting):
    with pytest.raises(ValidationError) as error:
        make_connection(key=KEY, base_url="http://127.0.0.1:9/v1", **setting)
    (field,) = setting
    assert field in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        make_connection(key=KEY, base_url="http://127.0.0.1:9/v1\r\nX-Injected: yes")
    assert "baseUrl" in error.value.message_dict


@pytest.mark.parametrize(
    ("base_url", "words"),
    [
        ("http://127.0.0.1:9/v1?x=/admin", "no query"),
        ("http://127.0.0.1:9/v1#fragment", "no query"),
        ("http://user:pw@127.0.0.1:9/v1", "user name or password"),
    ],
)
def test_a_base_url_is_an_api_root(make_connection, base_url, words):
    with pytest.raises(ValidationError) as error:
        make_connection(key=KEY, base_url=base_url)
    assert words in " ".join(error.value.message_dict["baseUrl"])


def test_control_characters_are_refused_on_update_and_through_the_api(
    make_connection, actor, admin_api
):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValidationError):
        services.integration_connection_update(
            connection=connection,
            actor=actor,
            config={"baseUrl": "http://127.0.0.1:9/v1", "organization": "org\r\nX: y"},
        )
    answer = admin_api.put(
        f"/v0/integrations/connections/{connection.name}",
        {"spec": {"config": {"baseUrl": "http://127.0.0.1:9/v1", "organization": "a\nb"}}},
        format="json",
    )
    assert answer.status_code == 400
    connection.refresh_from_db()
    assert "organization" not in connection.config


def test_moving_to_another_host_needs_the_key_again(make_connection, actor, workspace):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    elsewhere = {"baseUrl": "http://localhost:9/v1"}

    for secret in (None, {"apiKey": connection.masked_secret["apiKey"]}, {"apiKey": ""}):
        with pytest.raises(ValidationError) as error:
            services.integration_connection_update(
                connection=connection, actor=actor, config=elsewhere, secret=secret
            )
        assert "paste the key again" in " ".join(error.value.message_dict["apiKey"])
    connection.refresh_from_db()
    assert connection.config["baseUrl"] == "http://127.0.0.1:9/v1"

    # Another path or port on the same host is no move.
    services.integration_connection_update(
        connection=connection, actor=actor, config={"baseUrl": "http://127.0.0.1:10/openai/v1"}
    )
    # With the key presented again, the move is made and audited with both hosts.
    services.integration_connection_update(
        connection=connection, actor=actor, config=elsewhere, secret={"apiKey": KEY}
    )
    connection.refresh_from_db()
    assert connection.config["baseUrl"] == "http://localhost:9/v1"
    entry = AuditLogEntry.objects.for_workspace(workspace).filter(action="integration.update")
    assert entry.latest("id").changes["host"] == ["127.0.0.1", "localhost"]


def test_moving_to_another_host_in_the_console_asks_for_the_key(make_connection, admin_client):
    connection = make_connection(key=KEY, base_url="http://127.0.0.1:9/v1")
    url = f"/acme/settings/integrations/openai/connections/{connection.name}/settings/"
    page = admin_client.post(url, {"display_name": "Main", "baseUrl": "http://localhost:9/v1"})
    assert page.status_code == 200
    assert "paste the key again" in page.content.decode()
    connection.refresh_from_db()
    assert connection.config["baseUrl"] == "http://127.0.0.1:9/v1"
    moved = admin_client.post(
        url, {"display_name": "Main", "baseUrl": "http://localhost:9/v1", "apiKey": KEY}
    )
    assert moved.status_code == 302
    connection.refresh_from_db()
    assert connection.config["baseUrl"] == "http://localhost:9/v1"
