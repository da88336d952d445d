"""Forms and `submit_form`: a valid form goes to the service once; what the service
refuses lands on the form next to the right field."""

import pytest
from django import forms
from django.core.exceptions import ValidationError

from workspaces.forms import service_error_message, submit_form
from workspaces.services import Conflict


class NameForm(forms.Form):
    name = forms.CharField(max_length=10)
    note = forms.CharField(required=False)


def test_a_valid_form_goes_to_the_service_and_its_result_comes_back():
    form = NameForm({"name": "ci"})
    calls = []
    result = submit_form(form, lambda: calls.append(form.cleaned_data["name"]) or "saved")
    assert result == "saved"
    assert calls == ["ci"]
    assert form.errors == {}


def test_an_invalid_form_never_reaches_the_service():
    form = NameForm({"name": "far-too-long-a-name"})
    calls = []
    assert submit_form(form, lambda: calls.append("called")) is None
    assert calls == []
    assert "name" in form.errors


def test_a_service_refusal_per_field_lands_next_to_the_field():
    form = NameForm({"name": "ci"})

    def refuse():
        raise ValidationError({"note": "Too vague.", "elsewhere": "Not a field here."})

    assert submit_form(form, refuse, error_field="name") is None
    assert form.errors["note"] == ["Too vague."]
    assert form.non_field_errors() == ["Not a field here."]


def test_a_conflict_lands_on_the_error_field():
    form = NameForm({"name": "ci"})

    def refuse():
        raise Conflict("A service account named “ci” already exists.")

    assert submit_form(form, refuse, error_field="name") is None
    assert form.errors["name"] == ["A service account named “ci” already exists."]


def test_a_conflict_without_an_error_field_is_a_form_error():
    form = NameForm({"name": "ci"})

    def refuse():
        raise Conflict("Try again later.")

    assert submit_form(form, refuse) is None
    assert form.non_field_errors() == ["Try again later."]


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (Conflict("The last admin cannot leave."), "The last admin cannot leave."),
        (ValidationError(["First.", "Second."]), "First. Second."),
        (
            ValidationError({"role": "Role must be one of: admin, member."}),
            "Role must be one of: admin, member.",
        ),
    ],
)
def test_service_error_message_is_one_sentence(error, message):
    assert service_error_message(error) == message
