#!/usr/bin/env python3
"""Set up and run Blaxel Console with nothing but Python 3.11+ (standard library only).

    python3 dev.py serve     # .venv + install + migrate, then serve on http://127.0.0.1:8000
    python3 dev.py test      # .venv + install (with test tools), then the whole test suite
    python3 dev.py demo      # serve with a demo user, workspace, fake OpenAI and model API
    python3 dev.py bench     # the gateway benchmark (see bench/README.md)
    python3 dev.py chaos     # the chaos run: calls with faults mixed in, every record matched

Extra arguments after `test` go to pytest (e.g. `python3 dev.py test -k gateway`).
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
CHROMIUM = "/usr/bin/chromium"
# How uvicorn serves the console and gateway, here and in production (README, "Deploying
# at scale"); the fault suite starts its servers with the same options:
# - httptools, with a deadline for a request's headers (blaxel_console/serving.py:
#   `HTTP_HEADERS_TIMEOUT`, 10 s by default), so idle new connections and slow-loris
#   headers are closed;
# - keep-alive connections closed after 5 s without a request;
# - at most 4096 connections (or tasks) at once, then 503, and a listen backlog as long.
SERVER_OPTIONS = [
    "--loop", "uvloop",
    "--http", "blaxel_console.serving:HttpToolsProtocol",
    "--timeout-keep-alive", "5",
    "--limit-concurrency", "4096",
    "--backlog", "4096",
]  # fmt: skip


def run(*command, **kwargs):
    print("+", " ".join(str(part) for part in command), flush=True)
    return subprocess.run([str(part) for part in command], check=True, cwd=ROOT, **kwargs)


def ensure_venv(requirements: str) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python 3.11 or newer is needed.")
    if not PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    # Reinstall only when the requirement files change.
    digest = hashlib.sha256()
    for name in ("requirements.txt", requirements):
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{requirements}"
    if not stamp.exists() or stamp.read_text() != digest.hexdigest():
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PYTHON, "-m", "pip", "install", "--quiet", "-r", requirements)
        stamp.write_text(digest.hexdigest())


def ensure_chromium() -> None:
    """Browser tests drive Debian's Chromium; install it when we may (root + apt-get)."""
    if Path(CHROMIUM).exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", "chromium", env=env)
    else:
        sys.exit(f"The browser tests need Chromium at {CHROMIUM}: sudo apt-get install chromium")


def migrate() -> None:
    run(PYTHON, "manage.py", "migrate", "--noinput")


def serve(extra: list[str]) -> None:
    ensure_venv("requirements.txt")
    migrate()
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    # On SIGTERM, calls in flight (streams too) get this long to finish before they are
    # cut; uvicorn reads it from the environment. 20 s leaves the usage records time to
    # be sent within Kubernetes' default 30 s termination grace.
    os.environ.setdefault("UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN", "20")
    print(f"\nBlaxel Console: http://{host}:{port}/  (sign up to create the first workspace)\n")
    os.execv(
        str(PYTHON),
        [
            str(PYTHON),
            "-m",
            "uvicorn",
            "blaxel_console.asgi:application",
            "--host",
            host,
            "--port",
            port,
            *SERVER_OPTIONS,
            *extra,
        ],
    )


def test(extra: list[str]) -> None:
    ensure_venv("requirements-dev.txt")
    ensure_chromium()
    os.execv(str(PYTHON), [str(PYTHON), "-m", "pytest", *extra])


def demo(extra: list[str]) -> None:
    ensure_venv("requirements-dev.txt")
    migrate()
    os.execv(str(PYTHON), [str(PYTHON), "manage.py", "demo", *extra])


def bench(extra: list[str]) -> None:
    ensure_venv("requirements-dev.txt")
    os.execv(str(PYTHON), [str(PYTHON), "-m", "bench", *extra])


def chaos(extra: list[str]) -> None:
    ensure_venv("requirements-dev.txt")
    os.execv(str(PYTHON), [str(PYTHON), "-m", "bench.chaos", *extra])


COMMANDS = {"serve": serve, "test": test, "demo": demo, "bench": bench, "chaos": chaos}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])
