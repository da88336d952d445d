"""`manage.py demo`: its setup, and the command itself run briefly with its printed curl
command executed as printed."""

import json
import queue
import signal
import subprocess
import sys
import threading

import httpx
import pytest

from blaxel_console.testing.run import ROOT
from blaxel_console.testing.servers import free_port, subprocess_env
from blaxel_console.testing.waiting import wait_until


@pytest.mark.django_db(transaction=True)
def test_set_up_demo_is_idempotent(fake_openai, allow_loopback):
    from django.contrib.auth import authenticate

    from integrations.models import IntegrationConnection
    from models_api.management.commands.demo import set_up_demo
    from models_api.models import ModelAPI
    from workspaces.keys import hash_key
    from workspaces.models import ApiKey, Membership

    first = set_up_demo(
        fake_base_url=fake_openai.base_url, fake_key=fake_openai.key, site_url="http://x"
    )
    second = set_up_demo(
        fake_base_url=fake_openai.base_url, fake_key=fake_openai.second_key, site_url="http://x"
    )
    assert first.api_key != second.api_key
    assert first.endpoint == "http://x/run/demo/models/demo-gpt/v1"
    membership = Membership.objects.get(workspace__name="demo", user__email="demo@example.com")
    assert membership.role == "admin"
    model_api = ModelAPI.objects.get(workspace__name="demo", name="demo-gpt")
    assert model_api.enabled and model_api.runtime_model == "gpt-4o-mini"
    # The new key replaces the old one once the fake accepted it (checked first).
    connection = wait_until(
        lambda: IntegrationConnection.objects.filter(
            workspace__name="demo", name="fake-openai", pending_status=""
        ).first(),
        timeout=30,
    )
    assert connection.secret_values == {"apiKey": fake_openai.second_key}
    # The previous run's key is revoked; the new one and the new password work.
    assert not ApiKey.objects.get(key_hash=hash_key(first.api_key)).is_active
    assert ApiKey.objects.get(key_hash=hash_key(second.api_key)).is_active
    assert authenticate(username="demo@example.com", password=second.password) is not None
    assert authenticate(username="demo@example.com", password=first.password) is None


def _read_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _printed_until(lines: queue.Queue, marker: str, timeout: float = 90.0) -> list[str]:
    seen = []
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError("the demo exited early:\n" + "".join(seen))
        seen.append(line)
        if marker in line:
            return seen


def _curl_command(printed: list[str]) -> str:
    start = next(index for index, line in enumerate(printed) if line.startswith("curl "))
    command = []
    for line in printed[start:]:
        command.append(line.rstrip("\n"))
        if not line.rstrip().endswith("\\"):
            break
    return "\n".join(command)


@pytest.mark.live
def test_demo_command_serves_and_its_curl_call_works(transactional_db):
    from models_api.usage import services as usage

    port, fake_port = free_port(), free_port()
    # Loopback is NOT allowed by the environment: the demo must allow it by itself.
    env = subprocess_env(UPSTREAM_ALLOWED_HOSTS="")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port), "--fake-port", str(fake_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    try:
        printed = _printed_until(lines, "Press Ctrl+C to stop.")
        text = "".join(printed)
        assert "demo@example.com" in text and "Password:" in text
        curl = _curl_command(printed)
        assert f"http://127.0.0.1:{port}/run/demo/models/demo-gpt/v1/chat/completions" in curl

        result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["model"] == "gpt-4o-mini"
        assert answer["choices"][0]["message"]["content"].startswith("Hello from the fake")

        # What is needed to repeat the setup by hand: the fake's URL and keys it accepts.
        fake_base = f"http://127.0.0.1:{fake_port}/v1"
        assert f"Base URL:  {fake_base}" in text
        for label in ("  Fake key:  sk-demo-", "  Spare key: sk-demo-"):
            [line] = [line for line in printed if line.startswith(label)]
            printed_key = line.split()[2]
            listed = httpx.get(
                f"{fake_base}/models", headers={"Authorization": f"Bearer {printed_key}"}
            )
            assert listed.status_code == 200, (label, listed.text)

        # The Python snippet names the same endpoint and key.
        assert "from openai import OpenAI" in text
        api_key = curl.split("Bearer ", 1)[1].split('"', 1)[0]
        assert f'api_key="{api_key}"' in text
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    # Ctrl+C stopped both servers.
    for stopped in (port, fake_port):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{stopped}/", timeout=2)
    # The curl call's usage record is written before the test database is emptied.
    assert usage.flush(timeout=30)
