"""Forms of the policy screens. They only validate; the services write."""

from django import forms

from models_api.models import model_api_name_validator

from .models import Policy


class PolicyForm(forms.Form):
    """Create or edit a policy. The name is asked only on creation (it is immutable).

    Each type has its own fields (`TYPE_FIELDS`); a field required by its type is
    required only when that type is chosen, and the other type's fields are ignored.
    The screen groups them by type (a script shows the chosen type's group only)."""

    TYPE_FIELDS = {
        Policy.Type.MAX_TOKEN: (
            "granularity",
            "step",
            "max_input_tokens",
            "max_output_tokens",
            "max_total_tokens",
        ),
        Policy.Type.RATE_LIMIT: ("requests_per_minute", "per_caller"),
    }

    name = forms.CharField(
        label="Name",
        max_length=49,
        validators=[model_api_name_validator],
        help_text="Lowercase letters, digits and hyphens. Cannot be changed later.",
    )
    display_name = forms.CharField(label="Display name", max_length=63, required=False)
    type = forms.ChoiceField(
        label="Type",
        choices=Policy.Type.choices,
        widget=forms.RadioSelect,
        initial=Policy.Type.MAX_TOKEN,
    )
    granularity = forms.ChoiceField(
        label="Token window",
        choices=Policy.Granularity.choices,
        initial=Policy.Granularity.DAY,
        error_messages={"required": "Choose the window the caps apply to."},
        help_text="Windows are calendar-aligned in UTC (e.g. a day starts at 00:00 UTC).",
    )
    step = forms.IntegerField(
        label="Window length (in units of the window)",
        min_value=1,
        initial=1,
        required=False,
        help_text="1 = one minute / hour / day / month; 5 with “minute” = five minutes.",
    )
    max_input_tokens = forms.IntegerField(
        label="Input tokens cap", min_value=0, initial=0, required=False, help_text="0 = no cap."
    )
    max_output_tokens = forms.IntegerField(
        label="Output tokens cap", min_value=0, initial=0, required=False, help_text="0 = no cap."
    )
    max_total_tokens = forms.IntegerField(
        label="Total tokens cap", min_value=0, initial=0, required=False, help_text="0 = no cap."
    )
    requests_per_minute = forms.IntegerField(
        label="Requests per minute",
        min_value=1,
        error_messages={"required": "A rate limit needs requests per minute."},
    )
    per_caller = forms.BooleanField(
        label="Count each caller key separately",
        required=False,
        help_text="Unchecked: one budget shared by every caller of the model API.",
    )
    is_workspace_default = forms.BooleanField(
        label="Workspace default: applies to every model API of the workspace",
        required=False,
        help_text="Including model APIs created later; a member cannot detach it. Several "
        "policies of one type: the strictest wins.",
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["name"]

    def type_groups(self) -> list[tuple[str, str, list]]:
        """(type, its label, its bound fields) for each type, in the order of the choices."""
        return [
            (value, label, [self[name] for name in self.TYPE_FIELDS[value]])
            for value, label in Policy.Type.choices
        ]

    def common_fields(self) -> tuple[list, list]:
        """The bound fields of every type: those before the type groups, those after."""
        grouped = {name for names in self.TYPE_FIELDS.values() for name in names}
        common = [self[name] for name in self.fields if name not in grouped]
        return common[:-1], common[-1:]

    def full_clean(self):
        # Fields of the types not chosen are not required (and not used).
        chosen = self.data.get(self.add_prefix("type")) if self.is_bound else None
        relaxed = [
            self.fields[name]
            for value, names in self.TYPE_FIELDS.items()
            if value != chosen
            for name in names
            if self.fields[name].required
        ]
        for field in relaxed:
            field.required = False
        try:
            super().full_clean()
        finally:
            for field in relaxed:
                field.required = True

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("type") == Policy.Type.MAX_TOKEN:
            caps = [cleaned.get(f) for f in ("max_input_tokens", "max_output_tokens")]
            if not any([*caps, cleaned.get("max_total_tokens")]):
                self.add_error("max_total_tokens", "Set at least one cap above 0.")
        return cleaned

    def service_fields(self) -> dict:
        """Keyword arguments for `policies.policy_create` / `policy_update`."""
        data = self.cleaned_data
        return {
            "display_name": data.get("display_name") or "",
            "type": data["type"],
            "granularity": data.get("granularity") or Policy.Granularity.MINUTE,
            "step": data.get("step") or 1,
            "max_input_tokens": data.get("max_input_tokens") or 0,
            "max_output_tokens": data.get("max_output_tokens") or 0,
            "max_total_tokens": data.get("max_total_tokens") or 0,
            "requests_per_minute": data.get("requests_per_minute") or 0,
            "per_caller": bool(data.get("per_caller")),
            "is_workspace_default": bool(data.get("is_workspace_default")),
        }


class ModelAPIPoliciesForm(forms.Form):
    """Which of the workspace's policies apply to a model API (admins)."""

    policies = forms.MultipleChoiceField(
        label="Attached policies", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policies"].choices = list(policy_choices)
