"""What model calls cost: the shipped list-price table (`data/prices.json`, one table per
provider and date) and the cost of one call at a price. (A model API's own prices, set
by admins for negotiated rates, are `models_api.usage.models.PriceOverride`.)

Costs are whole nano-dollars (1e-9 USD): a price per million tokens with up to three
decimals is a whole number of nano-dollars per token, so costs add up exactly — in the
database's sums and in integer counters alike."""

import functools
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.utils import timezone

PRICE_TABLE_PATH = Path(__file__).resolve().parent / "data" / "prices.json"
NANO_USD_PER_USD = 10**9
# A dated snapshot of a model ("gpt-4o-2024-08-06", "gpt-3.5-turbo-0125") costs what
# the model it snapshots costs.
_SNAPSHOT_SUFFIX = re.compile(r"-\d{4}(-\d{2}-\d{2})?$")


@dataclass(frozen=True)
class Price:
    """USD per million tokens. `cached_input` is None when the provider has no cached
    rate (cached tokens then cost the input rate)."""

    input: Decimal
    output: Decimal | None  # None: the model has no output tokens (embeddings)
    cached_input: Decimal | None = None
    taken_on: date | None = None  # the list price's date; None for an override
    source: str = ""

    @property
    def is_override(self) -> bool:
        return self.taken_on is None

    def cost_nano_usd(
        self, *, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0
    ) -> int:
        cached = max(0, min(cached_input_tokens, input_tokens))
        cached_rate = self.input if self.cached_input is None else self.cached_input
        micro_usd = (
            (input_tokens - cached) * self.input
            + cached * cached_rate
            + output_tokens * (self.output or 0)
        )
        return int((micro_usd * 1000).to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class PriceTable:
    provider: str
    taken_on: date
    source: str
    prices: dict[str, Price]


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@functools.cache
def price_tables() -> dict[str, tuple[PriceTable, ...]]:
    """Provider id → its tables, oldest first (read once per process)."""
    data = json.loads(PRICE_TABLE_PATH.read_text())
    tables: dict[str, list[PriceTable]] = {}
    for entry in data["tables"]:
        taken_on = date.fromisoformat(entry["taken_on"])
        prices = {
            model: Price(
                input=Decimal(str(rates["input"])),
                output=_decimal(rates["output"]),
                cached_input=_decimal(rates.get("cached_input")),
                taken_on=taken_on,
                source=entry["source"],
            )
            for model, rates in entry["models"].items()
        }
        tables.setdefault(entry["provider"], []).append(
            PriceTable(entry["provider"], taken_on, entry["source"], prices)
        )
    return {
        provider: tuple(sorted(found, key=lambda table: table.taken_on))
        for provider, found in tables.items()
    }


def table_in_force(provider: str, at: date | datetime | None = None) -> PriceTable | None:
    """The provider's newest table taken on or before `at` (today when None); the oldest
    one for calls made before any table was taken."""
    tables = price_tables().get(provider)
    if not tables:
        return None
    day = at.date() if isinstance(at, datetime) else at or timezone.now().date()
    in_force = [table for table in tables if table.taken_on <= day]
    return in_force[-1] if in_force else tables[0]


def list_price(provider: str, model: str, at: date | datetime | None = None) -> Price | None:
    table = table_in_force(provider, at)
    if table is None or not model:
        return None
    price = table.prices.get(model)
    if price is None:
        price = table.prices.get(_SNAPSHOT_SUFFIX.sub("", model))
    return price


def format_usd(nano_usd: int | None, places: int = 6) -> str:
    """ "$0.000123" — or "" when the cost is unknown."""
    if nano_usd is None:
        return ""
    amount = Decimal(nano_usd) / NANO_USD_PER_USD
    return f"${amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)}"
