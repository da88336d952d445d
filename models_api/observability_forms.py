"""Forms of the observability screens: log filters and policies. They only validate;
the services write."""

from datetime import UTC, datetime

from django import forms

from .metrics import RANGES
from .models import model_api_name_validator
from .policy_models import Policy

STATUS_CLASSES = {"2xx": (200, 300), "4xx": (400, 500), "5xx": (500, 600)}


class LogFilterForm(forms.Form):
    """Filters of the Logs tab (GET parameters); every field is optional."""

    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status"), ("2xx", "2xx"), ("4xx", "4xx"), ("5xx", "5xx")],
    )
    caller = forms.CharField(label="Caller", required=False, max_length=254)
    path = forms.CharField(label="Path", required=False, max_length=100)
    range = forms.ChoiceField(
        label="Time range",
        required=False,
        choices=[("", "All retained"), *((key, r.label) for key, r in RANGES.items())],
    )
    since = forms.DateTimeField(
        label="From (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label="To (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean(self):
        cleaned = super().clean()
        for field in ("since", "until"):
            value = cleaned.get(field)
            if value is not None and value.tzinfo is None:
                cleaned[field] = value.replace(tzinfo=UTC)
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since >= until:
            self.add_error("until", "“To” must be later than “From”.")
        return cleaned

    def filters(self, now: datetime | None = None) -> dict:
        """The cleaned values as `metrics.usage_records` keyword arguments."""
        data = self.cleaned_data
        since = data.get("since")
        if data.get("range"):
            start = (now or datetime.now(UTC)) - RANGES[data["range"]].duration
            since = max(since, start) if since else start
        return {
            "status_class": data.get("status") or None,
            "caller": data.get("caller") or None,
            "path": data.get("path") or None,
            "since": since,
            "until": data.get("until"),
        }


class PolicyForm(forms.Form):
    """Create or edit a policy. The name is asked only on creation (it is immutable)."""

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
        required=False,
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
        label="Requests per minute", min_value=1, required=False
    )
    per_caller = forms.BooleanField(
        label="Count each caller key separately",
        required=False,
        help_text="Unchecked: one budget shared by every caller of the model API.",
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["name"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("type") == Policy.Type.RATE_LIMIT:
            if not cleaned.get("requests_per_minute"):
                self.add_error("requests_per_minute", "A rate limit needs requests per minute.")
        elif cleaned.get("type") == Policy.Type.MAX_TOKEN:
            if not cleaned.get("granularity"):
                self.add_error("granularity", "Choose the window the caps apply to.")
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
        }


class ModelAPIPoliciesForm(forms.Form):
    """Which of the workspace's policies apply to a model API (admins)."""

    policies = forms.MultipleChoiceField(
        label="Attached policies", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, policy_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["policies"].choices = list(policy_choices)
