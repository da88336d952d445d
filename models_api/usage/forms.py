"""The log filter of the Logs tab and of `GET /v0/models/{name}/logs`, and a model API's
own prices (Workspace settings → Prices). They only validate."""

from datetime import UTC, datetime

from django import forms

from .selectors import RANGES

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


class PriceOverrideForm(forms.Form):
    """A model API's own prices, USD per million tokens (a negotiated rate)."""

    input_per_million = forms.DecimalField(
        label="Input price (USD per million tokens, required)",
        min_value=0,
        max_digits=12,
        decimal_places=3,
    )
    output_per_million = forms.DecimalField(
        label="Output price (USD per million tokens, required)",
        min_value=0,
        max_digits=12,
        decimal_places=3,
    )
    cached_input_per_million = forms.DecimalField(
        label="Cached input price (USD per million tokens, optional)",
        help_text="Prompt tokens the provider read from its cache. Empty: the input price.",
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=3,
    )
