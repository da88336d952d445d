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

    @classmethod
    def for_model_api(cls, model_api: ModelAPI, data=None):
        return cls(
            data,
            initial={
                "display_name": model_api.display_name,
                "enabled": model_api.enabled,
                "model": model_api.runtime_model,
            },
        )
