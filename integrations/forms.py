"""Forms of the integrations screens. Their fields come from the provider registry (a new
provider needs no new form), named as the registry names them (`apiKey`, `baseUrl`,
...) so that the services' field errors land next to the right input. Forms validate
input only; services write."""

from django import forms

from workspaces.models import slug_validator

from .providers import ConfigField, Provider


def _secret_input(item: ConfigField) -> forms.CharField:
    return forms.CharField(
        label=item.label,
        required=item.required,
        max_length=2000,
        strip=True,
        help_text=item.help_text,
        # Never rendered back, not even after an error elsewhere in the form.
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": item.placeholder},
        ),
    )


def _config_input(item: ConfigField) -> forms.CharField:
    return forms.CharField(
        label=item.label,
        required=item.required,
        max_length=2000,
        help_text=item.help_text,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": item.placeholder}
        ),
    )


class ProviderForm(forms.Form):
    def __init__(self, *args, provider: Provider, **kwargs):
        self.provider = provider
        super().__init__(*args, **kwargs)

    @property
    def secret_bound_fields(self) -> list:
        return [self[item.name] for item in self.provider.secret_fields if item.name in self.fields]

    @property
    def config_bound_fields(self) -> list:
        return [self[item.name] for item in self.provider.config_fields if item.name in self.fields]

    def ask_for_secrets_again(self) -> None:
        """Key fields are never rendered back. When the form comes back with errors, each
        key that was typed says so next to its (now empty) field."""
        for field in self.secret_bound_fields:
            if self.data.get(field.name) and not field.errors:
                self.add_error(
                    field.name,
                    "Paste the key again: for safety it is not kept when the form has errors.",
                )

    @property
    def config_needs_attention(self) -> bool:
        """Show the optional settings unfolded: one is required or has an error."""
        return any(field.errors or field.field.required for field in self.config_bound_fields)

    def config(self) -> dict:
        return {
            item.name: self.cleaned_data.get(item.name, "") for item in self.provider.config_fields
        }

    def secret(self) -> dict:
        return {
            item.name: self.cleaned_data.get(item.name, "") for item in self.provider.secret_fields
        }


class ConnectionCreateForm(ProviderForm):
    name = forms.CharField(
        label="Integration name",
        max_length=49,
        validators=[slug_validator],
        help_text="How model APIs and the API refer to it. Lowercase letters, digits and "
        "hyphens; cannot be changed later.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    display_name = forms.CharField(label="Display name", max_length=100, required=False)

    def __init__(self, *args, provider: Provider, **kwargs):
        super().__init__(*args, provider=provider, **kwargs)
        for item in provider.secret_fields:
            self.fields[item.name] = _secret_input(item)
        for item in provider.config_fields:
            self.fields[item.name] = _config_input(item)


class RotateKeyForm(ProviderForm):
    def __init__(self, *args, provider: Provider, **kwargs):
        super().__init__(*args, provider=provider, **kwargs)
        item = provider.primary_secret_field
        field = _secret_input(item)
        field.label, field.required = f"New {item.label}", True
        field.help_text = "Replaces the stored key of this connection; it is checked right away."
        self.fields[item.name] = field


class ConnectionSettingsForm(ProviderForm):
    display_name = forms.CharField(label="Display name", max_length=100, required=False)

    def __init__(self, *args, provider: Provider, **kwargs):
        super().__init__(*args, provider=provider, **kwargs)
        for item in provider.config_fields:
            self.fields[item.name] = _config_input(item)
        # Moving the connection to another host sends its key there: asked for again then.
        item = provider.primary_secret_field
        field = _secret_input(item)
        field.label, field.required = f"{item.label} (only when the base URL moves host)", False
        field.help_text = (
            "Leave empty unless the base URL now points at another host: the stored key is "
            "sent to a new host only once you paste it again."
        )
        self.fields[item.name] = field
