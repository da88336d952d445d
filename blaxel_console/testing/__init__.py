"""The test suite's pytest plugins, one module per concern, listed in the root
`conftest.py` (`pytest_plugins`): every shared fixture is defined once, here.

Plugins (fixtures and hooks):
- `run`: this run's id, and the test database, cache keys and Celery queue it keeps apart
  from other runs
- `database`: the test database as child processes reach it, connections, local cache
- `servers`: free ports, child processes' environment, the live ASGI server
- `celery_worker`: a real Celery worker when a broker is configured
- `browser`: Chromium through Playwright, screenshots, browser tests ordered last
- `fake_provider`: the fake OpenAI server, and the OpenAI SDK's clients of it
- `people`: users, workspaces `acme` and `globex`, principals, keys, service accounts,
  invitations, Django and DRF clients per role; fast password hashing for every test
- `connections`: OpenAI connections on the fake server, loopback upstreams allowed
- `model_apis`: model APIs through the services, or as rows for the gateway's tests;
  OpenAI SDK clients aimed at a live gateway
- `usage`: usage records (and waiting for a live server's), fresh counters, a
  private usage queue, a token-cap policy
- `gateway_inprocess`: the gateway's ASGI handler called in-process (`handler`, `call`)
- `private_services`: private PostgreSQL and Redis the fault suite stops and restarts,
  migrating a database, Celery workers on them

Helpers only: `api` (`/v0` clients and error shape), `waiting` (`wait_until`,
`run_async`), `resources` (a live process's fds, TCP connections and RSS, and waiting
until they are back to a baseline: the fault suite's leak accounting), `load` (calls
kept running through a live gateway during a fault).

Tests import a helper from the module that defines it, e.g.
`from blaxel_console.testing.servers import run_asgi_server`."""
