"""Usage in the API's JSON: metrics (a model API's or the workspace's) and log entries."""

from integrations.pricing import NANO_USD_PER_USD
from workspaces.api.representation import iso_time


def metrics_representation(result: dict) -> dict:
    def jsonable(value):
        if isinstance(value, dict):
            return {key: jsonable(item) for key, item in value.items()}
        if isinstance(value, list):
            return [jsonable(item) for item in value]
        if hasattr(value, "isoformat"):
            return iso_time(value)
        return value

    return jsonable(result)


def log_representation(record) -> dict:
    return {
        "requestId": record.request_id,
        "time": iso_time(record.time),
        "caller": record.caller,
        "apiKeyPrefix": record.api_key_prefix,
        "path": record.path,
        "status": record.status_code,
        "latencyMs": record.latency_ms,
        "ttfbMs": record.ttfb_ms,
        "tokens": {
            "input": record.input_tokens,
            "output": record.output_tokens,
            "total": record.total_tokens,
            "cachedInput": record.cached_input_tokens,
            "estimated": record.tokens_estimated,
        },
        "model": record.model or None,
        # At the price in force when the call ran; None when its model has no known price.
        "cost": None
        if record.cost_nano_usd is None
        else {
            "amount": round(record.cost_nano_usd / NANO_USD_PER_USD, 9),
            "currency": "USD",
            "estimated": record.tokens_estimated,
        },
        "streamed": record.streamed,
        "error": record.error_type or None,
        "connection": record.connection_name or None,
    }
