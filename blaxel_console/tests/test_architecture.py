"""The layout rules a newcomer relies on, checked on every run: the import contracts of
pyproject.toml (layers, independence, no cycles) hold, no module imports another
module's private names, and no module grows past what one can read in a sitting."""

import ast
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("blaxel_console", "workspaces", "integrations", "models_api", "bench")
# About 400 lines, with a little slack; a module that needs more becomes a package. The
# fake provider servers are exempt: each mirrors a whole public API in one place.
MAX_MODULE_LINES = 420


def _project_modules():
    for package in PROJECT_PACKAGES:
        yield from (ROOT / package).rglob("*.py")
    yield ROOT / "conftest.py"


def test_the_import_contracts_hold():
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) == 0


def test_no_module_imports_private_names_of_another():
    offences = []
    for path in _project_modules():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom) or node.module == "__future__":
                continue
            module = node.module or ""
            if node.level == 0 and module.split(".")[0] not in PROJECT_PACKAGES:
                continue  # a library's private name is its own business
            for alias in node.names:
                if alias.name.startswith("_"):
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}")
    assert offences == []


def test_no_module_is_longer_than_a_sitting():
    too_long = [
        f"{path.relative_to(ROOT)} ({count} lines)"
        for path in _project_modules()
        if "migrations" not in path.parts
        and not path.name.startswith("fake_")
        and (count := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert too_long == []
