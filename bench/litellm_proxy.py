"""LiteLLM's proxy, the reference Python gateway: installed from PyPI into a throwaway
virtualenv (pinned version), run with no database, pointed at the same fake upstream."""

import subprocess
import sys
from pathlib import Path

from .environment import ROOT
from .processes import Process, pinned

# The newest release whose `[proxy]` extra resolves from PyPI on this machine's Python.
LITELLM_VERSION = "1.106.12"
VENV = ROOT / "var" / "bench-litellm-venv"
MASTER_KEY = "sk-bench-litellm-master"


def ensure_installed() -> Path:
    """The venv's `litellm` command, installing the pinned version when needed."""
    stamp = VENV / ".bench-installed"
    command = VENV / "bin" / "litellm"
    if stamp.exists() and stamp.read_text() == LITELLM_VERSION and command.exists():
        return command
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {VENV} …", flush=True)
    subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
         f"litellm[proxy]=={LITELLM_VERSION}"],
        check=True,
    )  # fmt: skip
    stamp.write_text(LITELLM_VERSION)
    return command


def write_config(directory: Path, *, fake_base_url: str, fake_key: str) -> Path:
    path = directory / "litellm-config.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {fake_base_url}\n"
        f"      api_key: {fake_key}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {MASTER_KEY}\n"
    )
    return path


def start(*, port: int, fake_base_url: str, fake_key: str, core: int | None, log_dir: Path):
    """LiteLLM's proxy, one worker, on `core`; returns the Process once it answers."""
    command = ensure_installed()
    config = write_config(log_dir, fake_base_url=fake_base_url, fake_key=fake_key)
    # A clean environment: LiteLLM reads DATABASE_URL / REDIS_* and would use them.
    env = {
        "PATH": f"{VENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(log_dir),
        "LANG": "C.UTF-8",
        "LITELLM_LOG": "ERROR",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the cost map at start
        "PYTHONUNBUFFERED": "1",
    }
    arguments = [
        str(command), "--config", str(config), "--host", "127.0.0.1",
        "--port", str(port), "--num_workers", "1",
    ]  # fmt: skip
    process = Process(
        "litellm",
        pinned(arguments, core),
        env=env,
        cwd=log_dir,
        log_dir=log_dir,
    )
    process.wait_for_http(f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
    return process
