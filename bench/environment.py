"""Where the benchmark runs: its database, Redis, the environment of its processes, the
machine, and the tools it installs when they are missing (wrk)."""

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
BENCH_DATABASE = "blaxel_bench"


@dataclass
class Backend:
    database_url: str
    redis_url: str  # "" = embedded: in-process cache, eager Celery, usage written in-process
    create_database: bool

    @property
    def label(self) -> str:
        database = "PostgreSQL" if self.database_url.startswith("postgres") else "SQLite"
        return f"{database} + Redis + Celery worker" if self.redis_url else f"{database}, embedded"


def choose_backend(
    database_url: str | None, redis_url: str | None, database_name: str = BENCH_DATABASE
) -> Backend:
    """The given URLs; else PostgreSQL's `database_name` (`blaxel_bench`) on the server of
    `DATABASE_URL` (created if missing) and `REDIS_URL`; else SQLite under var/bench
    (embedded)."""
    redis = os.environ.get("REDIS_URL", "") if redis_url is None else redis_url
    if database_url:
        return Backend(database_url, redis, create_database=False)
    configured = os.environ.get("DATABASE_URL", "")
    if configured.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(configured)
        bench_url = urlunsplit(parts._replace(path=f"/{database_name}"))
        return Backend(bench_url, redis, create_database=True)
    VAR.mkdir(parents=True, exist_ok=True)
    sqlite_name = "bench" if database_name == BENCH_DATABASE else database_name
    return Backend(f"sqlite:///{VAR / f'{sqlite_name}.sqlite3'}", redis, create_database=False)


def ensure_database(backend: Backend) -> None:
    """Create the PostgreSQL bench database when it does not exist yet."""
    if not backend.create_database:
        return
    import psycopg

    parts = urlsplit(backend.database_url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def process_env(backend: Backend, *, run_id: str, site_url: str = "") -> dict:
    """The environment of the gateway and its Celery worker (and of this process's Django):
    the bench database, its own cache prefix and Celery queue, loopback upstreams allowed."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="blaxel_console.settings",
        DATABASE_URL=backend.database_url,
        CACHE_KEY_PREFIX=f"bench-{run_id}",
        CELERY_QUEUE=f"bench-{run_id}",
        UPSTREAM_ALLOWED_HOSTS="127.0.0.1,localhost,::1",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if backend.redis_url:
        env["REDIS_URL"] = backend.redis_url
    if site_url:
        env["SITE_URL"] = site_url
    return env


def ensure_wrk() -> str:
    """The path of wrk; installed from Debian when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("The benchmark needs wrk: sudo apt-get install wrk")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> list[float]:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return []


def machine() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": load_average(),
    }
