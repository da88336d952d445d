"""Usage in the API's JSON: metrics (a model API's or the workspace's) and log entries."""

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
            "estimated": record.tokens_estimated,
        },
        "streamed": record.streamed,
        "error": record.error_type or None,
        "connection": record.connection_name or None,
    }
