"""HTML forms. They only validate input; the views hand the cleaned data to a service
(`submit_form`), and `add_service_error` puts what the service refused next to the
right field."""

from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.core.exceptions import ValidationError

from .models import slug_validator, validate_workspace_name
from .permissions import Role
from .services import API_KEY_EXPIRY, Conflict

T = TypeVar("T")

_EXPIRY_LABELS = {"24h": "24 hours", "1w": "1 week", "30d": "30 days", "never": "Never"}
# The service's map is the source of truth; labels only make it readable.
API_KEY_EXPIRY_CHOICES = [(value, _EXPIRY_LABELS.get(value, value)) for value in API_KEY_EXPIRY]


def add_service_error(
    form: forms.Form,
    error: ValidationError | Conflict | str,
    field: str | None = None,
    *,
    renames: dict[str, str] | None = None,
):
    """Attach a service's `ValidationError` (or a `Conflict` message) to `form`: errors on
    fields the form has go next to them (`renames`: service argument → form field, where
    they differ), the rest become non-field errors."""
    if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
        for name, messages in error.message_dict.items():
            name = (renames or {}).get(name, name)
            form.add_error(name if name in form.fields else None, messages)
        return
    messages = error.messages if isinstance(error, ValidationError) else [str(error)]
    form.add_error(field if field in form.fields else None, messages)


def service_error_message(error: ValidationError | Conflict) -> str:
    """What a service refused, as one sentence for a flash message (pages without a form
    to put it on)."""
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def submit_form(
    form: forms.Form, write: Callable[[], T], *, error_field: str | None = None
) -> T | None:
    """Call `write` (one service, reading `form.cleaned_data`) when `form` is valid, and
    return its result; `None` when the form is invalid or the service refused the
    input, whose reasons are then on the form (`error_field` takes a refusal that names
    no field)."""
    if not form.is_valid():
        return None
    try:
        return write()
    except (ValidationError, Conflict) as error:
        add_service_error(form, error, field=error_field)
        return None


class WorkspaceCreateForm(forms.Form):
    name = forms.CharField(
        max_length=40,
        validators=[slug_validator, validate_workspace_name],
        help_text="Used in URLs and API calls. Lowercase letters, digits and hyphens; "
        "cannot be changed later.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    display_name = forms.CharField(
        max_length=100,
        required=False,
        help_text="Shown in the console. Defaults to the name.",
    )


class WorkspaceDisplayNameForm(forms.Form):
    display_name = forms.CharField(max_length=100, label="Display name")


class WorkspaceDeleteForm(forms.Form):
    confirm_name = forms.CharField(
        label="Type the workspace name to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, workspace_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace_name = workspace_name

    def clean_confirm_name(self):
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.workspace_name:
            raise ValidationError(f"Type “{self.workspace_name}” exactly to delete this workspace.")
        return value


class InvitationForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ScopeFormMixin(forms.Form):
    """A credential's scope: some model APIs by name (comma-separated; empty = all)
    and/or inference only."""

    scope_model_apis = forms.CharField(
        label="Only these model APIs",
        required=False,
        max_length=2000,
        help_text="Comma-separated model API names; leave empty for every model API.",
    )
    scope_inference_only = forms.BooleanField(
        label="Inference only",
        required=False,
        help_text="The gateway only: no changes through /v0.",
    )

    def clean_scope_model_apis(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["scope_model_apis"].split(",")]
        names = sorted({name for name in names if name})
        for name in names:
            try:
                slug_validator(name)
            except ValidationError as error:
                raise ValidationError(f"“{name}” is not a model API name.") from error
        return names


class ServiceAccountForm(ScopeFormMixin, forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.MEMBER,
        help_text="What keys of this account may do in the workspace.",
    )

    field_order = ["name", "description", "role", "scope_model_apis", "scope_inference_only"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Here the scope is that of the account's OAuth tokens; its keys carry their own.
        self.fields["scope_model_apis"].label = "OAuth tokens: only these model APIs"
        self.fields["scope_inference_only"].label = "OAuth tokens: inference only"


class ApiKeyForm(ScopeFormMixin, forms.Form):
    name = forms.CharField(
        max_length=100, help_text="To recognise the key later, e.g. where it is used."
    )
    expires_in = forms.ChoiceField(
        label="Expires after", choices=API_KEY_EXPIRY_CHOICES, initial="30d"
    )

    field_order = ["name", "expires_in", "scope_model_apis", "scope_inference_only"]
