"""The audit log in words: changes read "field: old → new" (or "field: value"), with no
Python reprs of lists, dicts or booleans, and secrets never shown; checked on the
presenter and on the screen with the entries the services really record."""

import re

import pytest

from workspaces.audit import change_lines

pytestmark = pytest.mark.django_db


def lines(action, changes):
    return [f"{line.field}: {line.text}" for line in change_lines(action, changes)]


def test_an_update_reads_old_to_new_in_words():
    assert lines(
        "model_api.update",
        {
            "display_name": ["", "Support bot"],
            "enabled": [True, False],
            "connections": [["good-key"], ["good-key", "backup"]],
        },
    ) == [
        "Display name: none → Support bot",
        "Enabled: yes → no",
        "Connections: good-key → good-key, backup",
    ]


def test_a_settings_dict_shows_only_the_settings_that_changed():
    old = {"baseUrl": "https://api.openai.com/v1", "organization": ""}
    new = {"baseUrl": "https://llm.example.com/v1", "organization": "", "project": "proj-1"}
    assert lines("integration.update", {"config": [old, new]}) == [
        "Config · Base URL: https://api.openai.com/v1 → https://llm.example.com/v1",
        "Config · Project: none → proj-1",
    ]


def test_a_creation_lists_values_even_two_of_them():
    # Two connections of a new model API are two values, not a change from one to the other.
    assert lines(
        "model_api.create",
        {"model": "gpt-4o", "connections": ["main", "backup"], "enabled": True},
    ) == ["Model: gpt-4o", "Connections: main, backup", "Enabled: yes"]
    assert lines("integration.create", {"config": {"baseUrl": "https://x.example/v1"}}) == [
        "Config: Base URL: https://x.example/v1"
    ]
    assert lines("policy.update", {"summary": ["100,000 total / day", "250,000 total / day"]})


def test_numbers_and_empty_values_read_as_words():
    assert lines(
        "policy.update", {"max_total_tokens": [100000, 250000], "labels": [{}, {"team": "ml"}]}
    ) == ["Max total tokens: 100,000 → 250,000", "Labels · Team: none → ml"]
    assert lines("member.invite", {"role": "member", "description": ""}) == [
        "Role: member",
        "Description: none",
    ]


def test_secrets_stay_hidden_whatever_the_service_recorded():
    assert lines(
        "integration.update",
        {"config": [{"apiKey": "sk-old-secret"}, {"apiKey": "sk-new-secret"}]},
    ) == ["Config · API key: (hidden) → (hidden)"]
    assert lines(
        "service_account.create", {"client_secret": "cs_123", "access_token": "t", "password": "p"}
    ) == ["Client secret: (hidden)", "Access token: (hidden)", "Password: (hidden)"]


def test_the_audit_log_screen_reads_in_words(
    admin_client, workspace, admin_principal, openai_connection
):
    from integrations.services import integration_connection_update
    from models_api.policies import services as policy_services
    from models_api.services import model_api_create, model_api_update

    model_api = model_api_create(
        workspace=workspace,
        name="support-bot",
        model="gpt-4o-mini",
        connections=[openai_connection],
        actor=admin_principal,
    )
    model_api_update(model_api=model_api, actor=admin_principal, enabled=False)
    integration_connection_update(
        connection=openai_connection,
        actor=admin_principal,
        config={**openai_connection.config, "organization": "org-research"},
    )
    policy = policy_services.policy_create(
        workspace=workspace,
        name="daily-cap",
        actor=admin_principal,
        type="maxToken",
        granularity="day",
        max_total_tokens=1000,
        is_workspace_default=True,
    )
    policy_services.policy_update(policy=policy, actor=admin_principal, max_total_tokens=2000)

    html = admin_client.get("/acme/settings/audit-log/").content.decode()

    cells = " ".join(re.findall(r'<td class="changes-cell">(.*?)</td>', html, re.S))
    for raw in ("['", "{'", "True", "False", "None"):
        assert raw not in cells
    text = re.sub(r"<[^>]+>", "", cells)
    assert "Connections: openai-main" in text
    assert "Enabled: yes → no" in text
    assert "Config · Organization: none → org-research" in text
    assert "Workspace default: yes" in text
    assert "Summary: 1,000 total tokens / day → 2,000 total tokens / day" in text
    assert "Key: sk-…" in text  # the hint recorded at creation, never the key
    assert "sk-fake-valid-key" not in html
