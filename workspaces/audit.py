"""How the audit log reads: each recorded change as "field: old → new" (or "field: value")
in words — never Python's reprs of lists, dicts or booleans, and never a secret.

Services record `changes` as JSON: a creation or a deletion records values
(`{"model": "gpt-4o", "enabled": true}`), an update records `[before, after]` pairs
(`{"display_name": ["Old", "New"]}`). A two-item list alone cannot say which it is (a
model API created with two connections records two names), so the action decides:
updates end with one of `PAIR_ACTIONS`.
"""

import re
from dataclasses import dataclass

PAIR_ACTIONS = (".update", ".rename", ".role_change", ".rotate_key")
NOTHING = "none"
REDACTED = "(hidden)"
# Words naming a value that is a secret whatever it holds (a provider key, a password …).
# "key" alone is not one: services record only a key's visible prefix or masked hint.
SECRET_WORDS = {"secret", "secrets", "password", "passwd", "credential", "credentials"}
LABELS = {"baseUrl": "Base URL", "apiKey": "API key", "expires_in": "Expires after"}
ACRONYMS = {"url": "URL", "api": "API", "id": "ID", "apis": "APIs"}


@dataclass(frozen=True)
class ChangeLine:
    field: str
    text: str


def _words(name: str) -> list[str]:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name)).replace("_", " ").lower().split()


def is_secret(name: str) -> bool:
    """`apiKey`, `client_secret`, `password`, `token` … (not `max_total_tokens`)."""
    words = _words(name)
    return bool(
        SECRET_WORDS & set(words)
        or " ".join(words[-2:]) == "api key"
        or (words and words[-1] == "token")
    )


def label(name: str) -> str:
    """`display_name` → "Display name", `baseUrl` → "Base URL"."""
    if name in LABELS:
        return LABELS[name]
    words = [ACRONYMS.get(word, word) for word in _words(name)]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def in_words(value, *, name: str = "") -> str:
    """One recorded value as a person reads it."""
    if name and is_secret(name):
        return REDACTED
    if value is None or value == "" or value == [] or value == {}:
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(in_words(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{label(key)}: {in_words(item, name=key)}" for key, item in value.items())
    return str(value)


def _pair_lines(field: str, old, new) -> list[ChangeLine]:
    if isinstance(old, dict) and isinstance(new, dict):
        # A settings dict: only the settings that changed, each on its own line.
        return [
            ChangeLine(
                f"{label(field)} · {label(key)}",
                f"{in_words(old.get(key), name=key)} → {in_words(new.get(key), name=key)}",
            )
            for key in dict.fromkeys([*old, *new])
            if old.get(key) != new.get(key)
        ]
    return [ChangeLine(label(field), f"{in_words(old, name=field)} → {in_words(new, name=field)}")]


def change_lines(action: str, changes: dict) -> list[ChangeLine]:
    """The lines an audit entry's changes read as."""
    is_update = action.endswith(PAIR_ACTIONS)
    lines = []
    for field, value in (changes or {}).items():
        if is_update and isinstance(value, list) and len(value) == 2:
            lines.extend(_pair_lines(field, *value))
        else:
            lines.append(ChangeLine(label(field), in_words(value, name=field)))
    return lines
