"""The provider registry: one declarative description per provider (DESIGN.md §5).

The gateway, the catalog and the screens read only these descriptions; adding an
OpenAI-compatible provider is one more `Provider(...)` entry here.
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


@dataclass(frozen=True)
class UsageLocation:
    """Where token counts sit in an answer (dotted paths into the JSON)."""

    # Plain answers: `usage.prompt_tokens` etc. Streamed chat: the same object in the
    # last chunk when `stream_options.include_usage` is set.
    container: str = "usage"
    input_tokens: tuple[str, ...] = ("prompt_tokens", "input_tokens")
    output_tokens: tuple[str, ...] = ("completion_tokens", "output_tokens")
    total_tokens: tuple[str, ...] = ("total_tokens",)
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

    def upstream_headers(self, *, config: dict, secret: dict) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {secret.get('apiKey', '')}"}
        for config_name, header in self.config_headers:
            if config.get(config_name):
                headers[header] = config[config_name]
        return headers

    def base_url(self, config: dict) -> str:
        return (config.get("baseUrl") or self.default_base_url).rstrip("/")


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
    secret_fields=(ConfigField("apiKey", "API key", required=True, secret=True),),
    config_fields=(
        ConfigField(
            "baseUrl",
            "Base URL",
            default="https://api.openai.com/v1",
            help_text="Leave empty for OpenAI; any OpenAI-compatible server also works.",
        ),
        ConfigField("organization", "Organization ID", help_text="Sent as OpenAI-Organization."),
        ConfigField("project", "Project ID", help_text="Sent as OpenAI-Project."),
    ),
    default_base_url="https://api.openai.com/v1",
    forward_paths=OPENAI_PATHS,
    keys_url="https://platform.openai.com/api-keys",
    billing_note="Calls are billed to the OpenAI account that owns this key.",
    config_headers=(("organization", "OpenAI-Organization"), ("project", "OpenAI-Project")),
)

OPENAI_COMPATIBLE = Provider(
    id="openai-compatible",
    display_name="OpenAI-compatible server",
    description="A self-hosted server speaking OpenAI's API: vLLM, Ollama, LM Studio, TGI.",
    secret_fields=(ConfigField("apiKey", "API key", secret=True),),
    config_fields=(
        ConfigField(
            "baseUrl",
            "Base URL",
            required=True,
            help_text="The server's OpenAI API root, e.g. http://vllm.internal:8000/v1.",
        ),
    ),
    default_base_url="",
    forward_paths=frozenset({"v1/chat/completions", "v1/completions", "v1/embeddings", "v1/models"}),
    billing_note="Calls run on your own server; no provider bills them.",
    key_hint="",
    base_url_required=True,
)

PROVIDERS: dict[str, Provider] = {provider.id: provider for provider in (OPENAI, OPENAI_COMPATIBLE)}


def get_provider(provider_id: str) -> Provider | None:
    return PROVIDERS.get(provider_id)
