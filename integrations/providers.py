"""The provider registry: one declarative description per provider (DESIGN.md §5).

The gateway, the catalog, the validation task, the REST API and the screens read only
these descriptions; adding an OpenAI-compatible provider is one more `Provider(...)`
entry here — no gateway or screen changes.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    required: bool = False
    default: str = ""
    help_text: str = ""
    secret: bool = False
    placeholder: str = ""


@dataclass(frozen=True)
class UsageLocation:
    """Where token counts sit in an answer (dotted paths into the JSON)."""

    # Plain answers: `usage.prompt_tokens` etc. Streamed chat: the same object in the
    # last chunk when `stream_options.include_usage` is set.
    container: str = "usage"
    input_tokens: tuple[str, ...] = ("prompt_tokens", "input_tokens")
    output_tokens: tuple[str, ...] = ("completion_tokens", "output_tokens")
    total_tokens: tuple[str, ...] = ("total_tokens",)
    # Input tokens read from the provider's prompt cache (billed at a lower rate), as
    # (object, field) inside the usage object: chat's `prompt_tokens_details`, the
    # Responses API's `input_tokens_details`.
    cached_input_tokens: tuple[tuple[str, str], ...] = (
        ("prompt_tokens_details", "cached_tokens"),
        ("input_tokens_details", "cached_tokens"),
    )
    # How to ask for usage in a streamed chat answer, merged into the request body.
    stream_usage_request: dict = field(default_factory=lambda: {"include_usage": True})


@dataclass(frozen=True)
class Provider:
    id: str
    display_name: str
    description: str
    secret_fields: tuple[ConfigField, ...]
    config_fields: tuple[ConfigField, ...]
    default_base_url: str
    # Paths the gateway may forward, relative to the endpoint (`v1/chat/completions`);
    # they map onto `{baseUrl}/{path without the leading "v1/"}`.
    forward_paths: frozenset[str]
    models_path: str = "models"  # relative to baseUrl; answers OpenAI's list shape
    keys_url: str = ""
    billing_note: str = ""
    key_hint: str = "sk-"
    usage: UsageLocation = field(default_factory=UsageLocation)
    # Config field → upstream header.
    config_headers: tuple[tuple[str, str], ...] = ()
    base_url_required: bool = False
    # Screens: a one-letter logo on a coloured tile (no remote images, ever).
    initial: str = ""
    color: str = "#444"
    # Whether the built-in table of well-known OpenAI models (catalog.py) describes
    # this provider's models and stands in for its live list when it is unreachable.
    builtin_catalog: bool = False
    key_advice: str = ""

    def upstream_headers(self, *, config: dict, secret: dict) -> dict[str, str]:
        headers = {}
        # A self-hosted server may have no key at all; send no empty bearer then.
        if secret.get("apiKey"):
            headers["Authorization"] = f"Bearer {secret['apiKey']}"
        for config_name, header in self.config_headers:
            if config.get(config_name):
                headers[header] = config[config_name]
        return headers

    def base_url(self, config: dict) -> str:
        return (config.get("baseUrl") or self.default_base_url).rstrip("/")

    def models_url(self, config: dict) -> str:
        return f"{self.base_url(config)}/{self.models_path.lstrip('/')}"

    def config_field(self, name: str) -> ConfigField | None:
        return next((item for item in self.config_fields if item.name == name), None)

    def secret_field(self, name: str) -> ConfigField | None:
        return next((item for item in self.secret_fields if item.name == name), None)

    @property
    def article(self) -> str:
        """ "an" before a name said with a vowel sound first ("an OpenAI integration")."""
        return "an" if self.display_name[:1].lower() in "aeio" else "a"

    @property
    def primary_secret_field(self) -> ConfigField:
        """The secret whose hint identifies a connection on screens (`apiKey`)."""
        return self.secret_fields[0]

    def describe(self) -> dict:
        """The provider in the shape of Blaxel's `Integration` resource
        (`GET /v0/integrations/{provider}`), plus this console's field lists."""
        return {
            "name": self.id,
            "displayName": self.display_name,
            "description": self.description,
            "additionalInfos": {
                "defaultBaseUrl": self.default_base_url,
                "keysUrl": self.keys_url,
                "billingNote": self.billing_note,
                "keyAdvice": self.key_advice,
                "modelsPath": self.models_path,
            },
            "endpoints": {
                f"/{path}": {
                    "method": "GET" if path == "v1/models" else "POST",
                    "token": {
                        "sent": f"{self.usage.container}.{self.usage.input_tokens[0]}",
                        "received": f"{self.usage.container}.{self.usage.output_tokens[0]}",
                        "total": f"{self.usage.container}.{self.usage.total_tokens[0]}",
                    },
                    "streamKey": "stream",
                    "streamToken": {
                        "sent": f"{self.usage.container}.{self.usage.input_tokens[0]}",
                        "received": f"{self.usage.container}.{self.usage.output_tokens[0]}",
                        "total": f"{self.usage.container}.{self.usage.total_tokens[0]}",
                    },
                }
                for path in sorted(self.forward_paths)
            },
            "headers": {header: f"config.{name}" for name, header in self.config_headers},
            "params": {},
            "secretFields": [_describe_field(item) for item in self.secret_fields],
            "configFields": [_describe_field(item) for item in self.config_fields],
        }


def _describe_field(item: ConfigField) -> dict:
    return {
        "name": item.name,
        "label": item.label,
        "required": item.required,
        "default": item.default,
        "helpText": item.help_text,
    }


OPENAI_PATHS = frozenset(
    {
        "v1/chat/completions",
        "v1/completions",
        "v1/embeddings",
        "v1/responses",
        "v1/models",
        "v1/moderations",
    }
)

OPENAI = Provider(
    id="openai",
    display_name="OpenAI",
    description="GPT, o-series, embedding and moderation models from OpenAI.",
    secret_fields=(
        ConfigField("apiKey", "API key", required=True, secret=True, placeholder="sk-proj-…"),
    ),
    config_fields=(
        ConfigField(
            "baseUrl",
            "Base URL",
            default="https://api.openai.com/v1",
            help_text="Leave empty for OpenAI; any OpenAI-compatible server also works.",
            placeholder="https://api.openai.com/v1",
        ),
        ConfigField(
            "organization",
            "Organization ID",
            help_text="Sent as the OpenAI-Organization header.",
            placeholder="org-…",
        ),
        ConfigField(
            "project",
            "Project ID",
            help_text="Sent as the OpenAI-Project header.",
            placeholder="proj_…",
        ),
    ),
    default_base_url="https://api.openai.com/v1",
    forward_paths=OPENAI_PATHS,
    keys_url="https://platform.openai.com/api-keys",
    billing_note=(
        "Calls made through this integration are billed to the OpenAI account that owns "
        "the key, not by Blaxel Console."
    ),
    config_headers=(("organization", "OpenAI-Organization"), ("project", "OpenAI-Project")),
    initial="O",
    color="#10a37f",
    builtin_catalog=True,
    key_advice=(
        "We recommend a restricted key with read-only permissions on Models and write "
        "permissions only on the endpoints you call."
    ),
)

OPENAI_COMPATIBLE = Provider(
    id="openai-compatible",
    display_name="OpenAI-compatible server",
    description="A self-hosted server speaking OpenAI's API: vLLM, Ollama, LM Studio, TGI.",
    secret_fields=(
        ConfigField(
            "apiKey",
            "API key",
            secret=True,
            help_text="Optional: only if your server checks one (vLLM --api-key).",
        ),
    ),
    config_fields=(
        ConfigField(
            "baseUrl",
            "Base URL",
            required=True,
            help_text="The server's OpenAI API root, e.g. http://vllm.internal:8000/v1.",
            placeholder="http://vllm.internal:8000/v1",
        ),
    ),
    default_base_url="",
    forward_paths=frozenset(
        {"v1/chat/completions", "v1/completions", "v1/embeddings", "v1/models"}
    ),
    billing_note="Calls run on your own server; no provider bills them.",
    key_hint="",
    base_url_required=True,
    initial="V",
    color="#5b5bd6",
)

PROVIDERS: dict[str, Provider] = {provider.id: provider for provider in (OPENAI, OPENAI_COMPATIBLE)}


def get_provider(provider_id: str) -> Provider | None:
    return PROVIDERS.get(provider_id)
