"""The inference gateway (DESIGN.md §7): `/run/{workspace}/models/{model_api}/{path}`.

A request goes through, in order:

1. `handler.GatewayASGIHandler` (ASGI): no console middleware, the body read once with
   the size limit enforced while reading (413).
2. `views.GatewayView` (an adrf view with none of DRF's per-request machinery):
   `auth` resolves the caller from the key (or the console session + CSRF token for
   the Playground) and the workspace role; `routing` the model API's route. Both come
   from `caches` (in-process, short-lived, invalidated through the shared cache), so
   the steady state costs no database query.
3. `upstream`: the caller's credentials and hop-by-hop headers dropped, the
   connection's provider headers added, the configured model forced, sent with the one
   pooled `httpx.AsyncClient` of the process; the next connection is tried on a
   connection error, 429 or 5xx.
4. `streaming`: server-sent events relayed as they arrive, token usage read on the
   side; `models_api.usage.services.record_call` once the answer is complete.
"""
