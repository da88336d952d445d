"""The suite's fixtures come from pytest plugin modules, one per concern, in
`blaxel_console/testing/` (see its `__init__`); pytest only reads `pytest_plugins` in the
root conftest."""

import pytest

# Before the plugins are imported: their helpers' asserts (e.g. `api.assert_error`) then
# explain a failure the way a test's own asserts do.
pytest.register_assert_rewrite("blaxel_console.testing")

pytest_plugins = [
    "blaxel_console.testing.run",
    "blaxel_console.testing.database",
    "blaxel_console.testing.servers",
    "blaxel_console.testing.celery_worker",
    "blaxel_console.testing.browser",
    "blaxel_console.testing.fake_provider",
    "blaxel_console.testing.people",
    "blaxel_console.testing.connections",
    "blaxel_console.testing.model_apis",
    "blaxel_console.testing.usage",
    "blaxel_console.testing.gateway_inprocess",
    "blaxel_console.testing.private_services",
]
