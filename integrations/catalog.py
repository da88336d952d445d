"""The model catalog of a connection (DESIGN.md §5).

The provider's live model list (OpenAI: `GET {baseUrl}/models`, fetched with the
connection's key) is the catalog. It is cached per connection in the Django cache (Redis
when configured) under the connection's id and `secret_version`, so a rotated key or a
changed base URL fetches anew; the periodic task `refresh_catalogs` keeps it warm.

A built-in table of well-known OpenAI models adds context windows, modalities and list
prices to the live entries, and stands in for the live list when the provider cannot be
reached.
"""

import re
import time
from dataclasses import asdict, dataclass, field

import httpx
from django.core.cache import cache

from . import outbound, pricing
from .models import IntegrationConnection, mask_secret
from .ssrf import UnsafeUpstreamError, check_base_url

# A live list is trusted this long; the periodic refresh runs well within it.
LIVE_CACHE_SECONDS = 3600
# After a failed fetch the fallback is remembered briefly, so that a catalog search that
# filters as one types does not wait for an unreachable provider on every keystroke.
FALLBACK_CACHE_SECONDS = 60
FETCH_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_MESSAGE_LENGTH = 300

# The built-in facts below are OpenAI's published context windows and modalities; list
# prices come from the price table (`pricing`, `data/prices.json`).


@dataclass
class CatalogModel:
    id: str
    owned_by: str = ""
    context_window: int | None = None
    modality: str = ""
    input_price_per_million: float | None = None
    output_price_per_million: float | None = None
    prices_as_of: str = ""  # the date of the price table the prices come from
    description: str = ""
    source: str = "live"  # "live": in the provider's list; "builtin": from the table below
    created: int = 0

    def to_openai(self) -> dict:
        """An entry of OpenAI's model list, with this console's facts beside it."""
        has_price = self.input_price_per_million is not None
        return {
            "id": self.id,
            "object": "model",
            "created": self.created,
            "owned_by": self.owned_by,
            "context_window": self.context_window,
            "modality": self.modality,
            "description": self.description,
            "pricing": (
                {
                    "currency": "USD",
                    "unit": "1M tokens",
                    "input": self.input_price_per_million,
                    "output": self.output_price_per_million,
                    "kind": "list price",
                    "as_of": self.prices_as_of,
                }
                if has_price
                else None
            ),
            "source": self.source,
        }


def _builtin(id, context_window, modality, description) -> CatalogModel:
    return CatalogModel(
        id=id,
        owned_by="openai",
        context_window=context_window,
        modality=modality,
        description=description,
        source="builtin",
    )


TEXT_IMAGE = "text, image → text"
TEXT = "text → text"
EMBEDDING = "text → embedding"

BUILTIN_MODELS: dict[str, CatalogModel] = {
    model.id: model
    for model in (
        _builtin("gpt-5", 400_000, TEXT_IMAGE, "Flagship reasoning model."),
        _builtin("gpt-5-mini", 400_000, TEXT_IMAGE, "Faster, cheaper GPT-5."),
        _builtin("gpt-5-nano", 400_000, TEXT_IMAGE, "Smallest, fastest GPT-5."),
        _builtin("gpt-4.1", 1_047_576, TEXT_IMAGE, "Long-context flagship chat."),
        _builtin("gpt-4.1-mini", 1_047_576, TEXT_IMAGE, "Smaller GPT-4.1."),
        _builtin("gpt-4.1-nano", 1_047_576, TEXT_IMAGE, "Smallest GPT-4.1."),
        _builtin("gpt-4o", 128_000, TEXT_IMAGE, "Versatile multimodal model."),
        # The first gpt-4o snapshot kept its launch price.
        _builtin("gpt-4o-2024-05-13", 128_000, TEXT_IMAGE, "First gpt-4o snapshot."),
        _builtin("gpt-4o-mini", 128_000, TEXT_IMAGE, "Small, fast, affordable."),
        _builtin("o3", 200_000, TEXT_IMAGE, "Reasoning model for hard problems."),
        _builtin("o3-mini", 200_000, TEXT, "Small reasoning model."),
        _builtin("o4-mini", 200_000, TEXT_IMAGE, "Fast, affordable reasoning."),
        _builtin("o1", 200_000, TEXT_IMAGE, "Earlier full reasoning model."),
        _builtin("gpt-4-turbo", 128_000, TEXT_IMAGE, "Older high-end GPT-4."),
        _builtin("gpt-3.5-turbo", 16_385, TEXT, "Legacy chat model."),
        _builtin("text-embedding-3-small", 8_191, EMBEDDING, "Small embeddings."),
        _builtin("text-embedding-3-large", 8_191, EMBEDDING, "Best embeddings."),
        _builtin("text-embedding-ada-002", 8_191, EMBEDDING, "Legacy embeddings."),
        _builtin(
            "omni-moderation-latest",
            None,
            "text, image → moderation",
            "Moderation; free of charge.",
        ),
    )
}

# `gpt-4o-mini-2024-07-18` is a dated snapshot of `gpt-4o-mini`.
_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def builtin_model(model_id: str) -> CatalogModel | None:
    """The built-in facts for `model_id` (or for the model a dated snapshot belongs to),
    with its list price in force today."""
    model = BUILTIN_MODELS.get(model_id) or BUILTIN_MODELS.get(_SNAPSHOT_SUFFIX.sub("", model_id))
    if model is None:
        return None
    facts = {**asdict(model), "id": model_id}
    price = pricing.list_price("openai", model_id)
    if price is not None:
        facts.update(
            input_price_per_million=float(price.input),
            output_price_per_million=None if price.output is None else float(price.output),
            prices_as_of=price.taken_on.isoformat(),
        )
    return CatalogModel(**facts)


# --- talking to the provider ------------------------------------------------------------


class ProviderError(Exception):
    """The provider could not list the models. The message is safe to show."""


class ProviderUnreachable(ProviderError):
    """No usable answer: connection refused, timeout, DNS, 429 or 5xx. Worth retrying."""


class ProviderRejected(ProviderError):
    """The provider answered and refused (wrong key, no permission, wrong base URL)."""

    def __init__(self, message: str, *, status_code: int):
        super().__init__(message)
        self.status_code = status_code


_TOKEN = re.compile(r"[^\s\"'`,;()]+")


def _scrub(text: str, connection: IntegrationConnection) -> str:
    """Providers quote a rejected key back, whole or half-masked (OpenAI: `sk-proj-****abcd`,
    eight characters and the last four). Replace any such quote with our own hint."""
    secrets = [value for value in connection.secret_values.values() if value and len(value) >= 8]

    def replace(match: re.Match) -> str:
        token = match.group(0)
        bare = token.rstrip(".:")
        for secret in secrets:
            quoted = secret in bare or (
                len(bare) >= 6
                and (bare[:6] == secret[:6] or ("*" in bare and bare[-4:] == secret[-4:]))
            )
            if quoted:
                return mask_secret(secret) + token[len(bare) :]
        return token

    return _TOKEN.sub(replace, text)[:MAX_MESSAGE_LENGTH]


def _provider_message(response: httpx.Response) -> str:
    """The provider's own explanation, when its answer is its JSON error shape
    (`{"error": {"message": ...}}` or `{"error": "..."}`); never a raw body, which could
    be anything a server at that URL chose to put in front of the members who read the
    connection's status."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    if isinstance(error, str):
        return error
    return ""


def check_upstream(connection: IntegrationConnection) -> None:
    """The SSRF check for a connection's own base URL (the registry's defaults are
    trusted). Raises `UnsafeUpstreamError`."""
    base_url = connection.config.get("baseUrl")
    if base_url:
        check_base_url(base_url)


def fetch_live_models(connection: IntegrationConnection) -> list[CatalogModel]:
    """The provider's model list, fetched now with the connection's key."""
    provider = connection.provider
    try:
        check_upstream(connection)
    except UnsafeUpstreamError as error:
        raise ProviderRejected(str(error), status_code=0) from None
    headers = {
        "Accept": "application/json",
        **provider.upstream_headers(config=connection.config, secret=connection.secret_values),
    }
    url = provider.models_url(connection.config)
    try:
        response = outbound.fetch("GET", url, headers=headers, timeout=FETCH_TIMEOUT)
    except httpx.TimeoutException:
        raise ProviderUnreachable("unreachable: the provider did not answer in time") from None
    except httpx.HTTPError:
        raise ProviderUnreachable("unreachable: could not connect to the provider") from None
    if response.status_code == 429 or response.status_code >= 500:
        message = _scrub(_provider_message(response), connection)
        raise ProviderUnreachable(
            f"unreachable: the provider answered {response.status_code}"
            + (f": {message}" if message else "")
        )
    if response.status_code != 200:
        message = _scrub(_provider_message(response), connection)
        raise ProviderRejected(message, status_code=response.status_code)
    try:
        entries = response.json()["data"]
        models = [
            CatalogModel(
                id=str(entry["id"]),
                owned_by=str(entry.get("owned_by") or ""),
                created=int(entry.get("created") or 0),
            )
            for entry in entries
        ]
    except (ValueError, KeyError, TypeError):
        raise ProviderRejected(
            f"The answer of {url} is not an OpenAI model list; check the base URL.",
            status_code=response.status_code,
        ) from None
    if provider.builtin_catalog:
        models = [_describe(model) for model in models]
    return sorted(models, key=lambda model: model.id)


def _describe(model: CatalogModel) -> CatalogModel:
    facts = builtin_model(model.id)
    if facts is None:
        return model
    return CatalogModel(
        **{**asdict(facts), "owned_by": model.owned_by or facts.owned_by, "source": "live"},
    )


# --- the cached catalog -----------------------------------------------------------------


@dataclass
class CatalogSnapshot:
    models: list[CatalogModel]
    live: bool  # False: the provider could not be asked; `models` is the built-in table
    fetched_at: float
    error: str = ""
    stale: bool = False  # a live list kept because a refresh just failed
    by_id: dict[str, CatalogModel] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.by_id = {model.id: model for model in self.models}


def cache_key(connection: IntegrationConnection) -> str:
    return f"integrations:catalog:{connection.pk}:{connection.secret_version}"


def _fallback_models(connection: IntegrationConnection) -> list[CatalogModel]:
    if not connection.provider.builtin_catalog:
        return []
    return sorted(
        (builtin_model(model_id) for model_id in BUILTIN_MODELS),
        key=lambda model: model.id,
    )


def _store(connection, snapshot: CatalogSnapshot) -> None:
    cache.set(
        cache_key(connection),
        {
            "models": [asdict(model) for model in snapshot.models],
            "live": snapshot.live,
            "fetched_at": snapshot.fetched_at,
            "error": snapshot.error,
        },
        timeout=LIVE_CACHE_SECONDS if snapshot.live else FALLBACK_CACHE_SECONDS,
    )


def _load(connection) -> CatalogSnapshot | None:
    data = cache.get(cache_key(connection))
    if not data:
        return None
    return CatalogSnapshot(
        models=[CatalogModel(**model) for model in data["models"]],
        live=data["live"],
        fetched_at=data["fetched_at"],
        error=data.get("error", ""),
    )


def remember_live_models(connection: IntegrationConnection, models: list[CatalogModel]) -> None:
    """Cache a list just fetched elsewhere (the validation task) as the live catalog."""
    _store(connection, CatalogSnapshot(models=models, live=True, fetched_at=time.time()))


def catalog_snapshot(
    connection: IntegrationConnection, *, refresh: bool = False
) -> CatalogSnapshot:
    """The catalog with how it was obtained. `refresh=True` asks the provider now."""
    cached = _load(connection)
    if cached is not None and not refresh:
        return cached
    try:
        models = fetch_live_models(connection)
    except ProviderError as error:
        if cached is not None and cached.live:
            # A refresh failed; the list fetched a moment ago is still the better answer.
            cached.stale, cached.error = True, str(error)
            return cached
        snapshot = CatalogSnapshot(
            models=_fallback_models(connection),
            live=False,
            fetched_at=time.time(),
            error=str(error),
        )
    else:
        snapshot = CatalogSnapshot(models=models, live=True, fetched_at=time.time())
    _store(connection, snapshot)
    return snapshot


def catalog_for_connection(
    connection: IntegrationConnection, *, refresh: bool = False
) -> list[CatalogModel]:
    """The connection's models: live when the provider answers, else the built-in table."""
    return catalog_snapshot(connection, refresh=refresh).models


def model_in_catalog(connection: IntegrationConnection, model_id: str) -> bool | None:
    """Whether the connection can use `model_id`. None: cannot tell (the provider is
    unreachable and the model is not in the built-in table)."""
    snapshot = catalog_snapshot(connection)
    if snapshot.live:
        return model_id in snapshot.by_id
    if connection.provider.builtin_catalog and builtin_model(model_id) is not None:
        return True
    return None
