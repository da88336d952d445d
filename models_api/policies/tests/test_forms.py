"""The policy form: the settings of each type grouped under that type, labels that say
what is required, and the server requiring a type's fields only when it is chosen."""

import re

import pytest

from models_api.policies.forms import PolicyForm
from models_api.policies.models import Policy

pytestmark = pytest.mark.django_db


def label_of(html: str, field_id: str) -> str:
    match = re.search(rf'<label for="{field_id}">(.*?)</label>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_a_rate_limit_requires_requests_per_minute_and_ignores_the_token_settings():
    form = PolicyForm(data={"name": "burst", "type": "rateLimit", "granularity": ""})
    assert not form.is_valid()
    assert form.errors == {"requests_per_minute": ["A rate limit needs requests per minute."]}

    form = PolicyForm(data={"name": "burst", "type": "rateLimit", "requests_per_minute": "60"})
    assert form.is_valid(), form.errors
    assert form.service_fields()["requests_per_minute"] == 60


def test_a_token_cap_requires_its_window_and_a_cap_but_not_requests_per_minute():
    form = PolicyForm(data={"name": "cap", "type": "maxToken", "granularity": ""})
    assert not form.is_valid()
    assert form.errors == {
        "granularity": ["Choose the window the caps apply to."],
        "max_total_tokens": ["Set at least one cap above 0."],
    }

    form = PolicyForm(
        data={"name": "cap", "type": "maxToken", "granularity": "day", "max_total_tokens": "5"}
    )
    assert form.is_valid(), form.errors
    # The requirement depends on the chosen type only while validating.
    assert form.fields["requests_per_minute"].required


def test_the_screen_groups_fields_by_type_and_marks_only_optional_ones(admin_client, workspace):
    html = admin_client.get("/acme/settings/policies/new/").content.decode()

    fieldset = r'<fieldset class="policy-type-fields" data-policy-type="(\w+)">(.*?)</fieldset>'
    groups = dict(re.findall(fieldset, html, re.S))
    assert set(groups) == {Policy.Type.MAX_TOKEN, Policy.Type.RATE_LIMIT}
    assert 'name="requests_per_minute"' in groups["rateLimit"]
    assert 'name="per_caller"' in groups["rateLimit"]
    assert 'name="granularity"' not in groups["rateLimit"]
    for name in ("granularity", "step", "max_input_tokens", "max_total_tokens"):
        assert f'name="{name}"' in groups["maxToken"]
    assert "Rate limit settings" in groups["rateLimit"]
    assert "used when the type is Rate limit" in groups["rateLimit"]

    assert label_of(html, "id_requests_per_minute") == "Requests per minute"
    assert label_of(html, "id_granularity") == "Token window"
    assert label_of(html, "id_step").endswith("(optional)")
    assert label_of(html, "id_display_name").endswith("(optional)")
    assert "js/policy_form.js" in html


def test_the_screen_creates_a_rate_limit_with_token_fields_left_as_they_were(
    admin_client, workspace
):
    response = admin_client.post(
        "/acme/settings/policies/new/",
        {
            "name": "burst",
            "type": "rateLimit",
            "requests_per_minute": "120",
            "granularity": "day",
            "step": "1",
            "max_total_tokens": "0",
        },
    )
    assert response.status_code == 302
    policy = Policy.objects.get(workspace=workspace, name="burst")
    assert (policy.type, policy.requests_per_minute) == ("rateLimit", 120)

    response = admin_client.post(
        "/acme/settings/policies/new/", {"name": "burst-2", "type": "rateLimit"}
    )
    assert response.status_code == 200
    assert "A rate limit needs requests per minute." in response.content.decode()
