"""HTML forms of the model-API screens. They validate input only; the services write."""

from django import forms

from integrations.providers import PROVIDERS

from .models import ModelAPI, model_api_name_validator


class ModelAPICreateForm(forms.Form):
    provider = forms.ChoiceField(choices=[(p.id, p.display_name) for p in PROVIDERS.values()])
    connection = forms.ChoiceField(label="Integration connection")
    model = forms.CharField(
        label="Model",
        max_length=200,
        help_text="Type to search the provider's catalog; pick with the arrow keys and Enter.",
    )
    name = forms.CharField(
        label="Model API name",
        max_length=49,
        validators=[model_api_name_validator],
        help_text="Lowercase letters, digits and hyphens, at most 49. Part of the endpoint URL; "
        "cannot be changed later.",
    )
    display_name = forms.CharField(label="Display name", max_length=100, required=False)

    def __init__(self, *args, connections, **kwargs):
        """`connections`: the workspace's connections of the chosen provider."""
        super().__init__(*args, **kwargs)
        self.connections = {connection.name: connection for connection in connections}
        self.fields["connection"].choices = [
            (connection.name, connection.display_name or connection.name)
            for connection in connections
        ]
        self.fields["model"].widget.attrs.update(autocomplete="off", spellcheck="false")
        self.fields["name"].widget.attrs.update(
            autocomplete="off", spellcheck="false", pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?"
        )

    def clean_model(self):
        return self.cleaned_data["model"].strip()

    def clean(self):
        cleaned = super().clean()
        connection = self.connections.get(cleaned.get("connection"))
        if connection is not None and connection.integration != cleaned.get("provider"):
            self.add_error("connection", "This connection is not of the chosen provider.")
        cleaned["connection_object"] = connection
        return cleaned


# The edit page offers this many connection slots (the serving one, then fallbacks).
MAX_CONNECTION_SLOTS = 4


def connection_choice_label(connection) -> str:
    """How the connection pickers name a connection: its label, name and status."""
    return f"{connection.label} ({connection.name}) · {connection.get_status_display()}"


class ModelAPIEditForm(forms.Form):
    display_name = forms.CharField(label="Display name", max_length=100, required=False)
    enabled = forms.BooleanField(
        label="Enabled",
        required=False,
        help_text="A disabled model API refuses calls (403) until it is enabled again.",
    )
    model = forms.CharField(
        label="Model",
        max_length=200,
        help_text="The provider's model id; changing it checks the model again.",
    )

    def __init__(self, *args, connections=(), slots: int = 1, **kwargs):
        """`connections`: the workspace's connections of the model API's provider;
        `slots`: how many ordered connection fields to offer."""
        super().__init__(*args, **kwargs)
        self.available = {connection.name: connection for connection in connections}
        choices = [(c.name, connection_choice_label(c)) for c in connections]
        for index in range(slots):
            serving = index == 0
            self.fields[f"connection_{index}"] = forms.ChoiceField(
                label="Serving connection" if serving else f"Fallback {index}",
                # Left out of a POST: the connections stay as they are.
                required=False,
                choices=choices if serving else [("", "— none —"), *choices],
                help_text=(
                    "Calls go to this connection; the fallbacks below are tried in order "
                    "when it answers 429 or 5xx."
                    if serving
                    else ""
                ),
            )

    @property
    def connection_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith("connection_")]

    def clean(self):
        cleaned = super().clean()
        names = [
            cleaned.get(field.name) for field in self.connection_fields if cleaned.get(field.name)
        ]
        if len(set(names)) != len(names):
            self.add_error("connection_1", "Each connection may be listed once.")
        cleaned["connection_objects"] = [self.available[name] for name in names] or None
        return cleaned

    @classmethod
    def for_model_api(cls, model_api: ModelAPI, *, connections, current, data=None):
        """The form for `model_api`, whose connections are `current` (in order), offering
        `connections` (the workspace's of its provider)."""
        slots = max(len(current), min(len(connections), MAX_CONNECTION_SLOTS), 1)
        return cls(
            data,
            connections=connections,
            slots=slots,
            initial={
                "display_name": model_api.display_name,
                "enabled": model_api.enabled,
                "model": model_api.runtime_model,
                **{f"connection_{index}": c.name for index, c in enumerate(current)},
            },
        )
