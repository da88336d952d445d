"""Searching a catalog the way people type model ids: case, hyphens and dots do not
matter ("gpt4o" finds gpt-4o), and a close typo still finds the model ("gtp-4o"), ranked
after the exact, prefix and substring matches. Pure functions over `CatalogModel`s."""

import re
from difflib import SequenceMatcher

from .catalog import CatalogModel, catalog_for_connection
from .models import IntegrationConnection

# How alike a typed id and a catalog id must be to count as a typo of it (difflib's
# ratio, 0..1), and the shortest query worth a fuzzy match.
FUZZY_CUTOFF = 0.75
SUGGESTION_CUTOFF = 0.6
FUZZY_MIN_LENGTH = 3

_SEPARATORS = re.compile(r"[^a-z0-9]+")


def normalized(text: str) -> str:
    """`GPT-4o` → `gpt4o`: what is left once case and separators are set aside."""
    return _SEPARATORS.sub("", text.lower())


def similarity(query: str, candidate: str) -> float:
    """How alike two normalized ids are, also counting the query as the start of a
    longer id (a typo of "gpt-4o" also finds "gpt-4o-mini")."""
    if not query or not candidate:
        return 0.0
    whole = SequenceMatcher(None, query, candidate).ratio()
    start = SequenceMatcher(None, query, candidate[: len(query)]).ratio()
    return max(whole, start)


def _rank(query: str, needle: str, model_id: str) -> int | None:
    candidate = model_id.lower()
    squeezed = normalized(model_id)
    if candidate == query or (needle and squeezed == needle):
        return 0
    if candidate.startswith(query) or (needle and squeezed.startswith(needle)):
        return 1
    if query in candidate or (needle and needle in squeezed):
        return 2
    return None


def _typo_matches(models: list[CatalogModel], needle: str) -> list[CatalogModel]:
    if len(needle) < FUZZY_MIN_LENGTH:
        return []
    scored = [(similarity(needle, normalized(model.id)), model) for model in models]
    scored = [item for item in scored if item[0] >= FUZZY_CUTOFF]
    scored.sort(key=lambda item: (-item[0], len(item[1].id), item[1].id))
    return [model for _, model in scored]


def rank_models(models: list[CatalogModel], query: str, limit: int = 50) -> list[CatalogModel]:
    """Exact matches first, then ids that start with the query, then ids that contain
    it (each ignoring case and separators), shorter ids first within a group. When
    nothing matches so, close typos of the query, most alike first."""
    query = query.strip().lower()
    if not query:
        return models[:limit]
    needle = normalized(query)
    ranked = []
    for model in models:
        rank = _rank(query, needle, model.id)
        if rank is not None:
            ranked.append((rank, len(model.id), model.id.lower(), model))
    if not ranked:
        return _typo_matches(models, needle)[:limit]
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked[:limit]]


def closest_model_id(model_ids, typed: str) -> str | None:
    """The catalog id `typed` most likely meant ("gpt4o" → "gpt-4o"), or None."""
    needle = normalized(typed)
    best, best_score = None, SUGGESTION_CUTOFF
    for model_id in model_ids:
        squeezed = normalized(model_id)
        if squeezed == needle:
            return model_id
        score = SequenceMatcher(None, needle, squeezed).ratio()
        if score > best_score or (score == best_score and best and len(model_id) < len(best)):
            best, best_score = model_id, score
    return best


def catalog_search(
    connection: IntegrationConnection, query: str, limit: int = 50
) -> list[CatalogModel]:
    return rank_models(catalog_for_connection(connection), query, limit)
