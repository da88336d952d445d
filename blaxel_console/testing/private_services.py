"""Private PostgreSQL and Redis instances for the fault suite, which stops and restarts
them: the machine's shared services (and other runs using them) are never touched.

Each is started once per session, and only when a test asks for it: `private_redis`
(a `redis-server` on a free port) and `private_postgres` (a cluster made with `initdb` in
a temporary folder). A test that stops one starts it again (`with service.stopped():`).
`celery_worker_on(env)` runs a real Celery worker with a given environment (the private
services, a queue of its own)."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from .run import ROOT, VAR_DIR
from .servers import free_port, stop_process, subprocess_env
from .waiting import wait_until

POSTGRES_USER = "postgres"


class PrivateRedis:
    """A `redis-server` of this session. The usage queue must outlive a restart, as it
    does in production with persistence on: an append-only file in a temporary folder,
    written on shutdown (SIGTERM)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)

    def start(self) -> None:
        log = (VAR_DIR / f"redis-{self.port}.log").open("a")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--save", "", "--appendonly", "yes",
             "--appendfsync", "everysec", "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        wait_until(self._answers, timeout=20, interval=0.05)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {self.process.returncode}")
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=20)
            self.process = None

    @contextmanager
    def stopped(self):
        """Redis is down inside the block (connections refused), and back afterwards on
        the same port with the data it had."""
        self.stop()
        try:
            yield self
        finally:
            self.start()


def _postgres_bin() -> Path:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name)
    )
    if not versions:
        pytest.skip("PostgreSQL's server binaries are not installed (/usr/lib/postgresql)")
    return versions[-1]


def _as_postgres(*command) -> list[str]:
    """PostgreSQL refuses to run as root (CI runs as root): run as the `postgres` user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", POSTGRES_USER, "--", *map(str, command)]
    return [str(part) for part in command]


class PrivatePostgres:
    """A PostgreSQL cluster of this session, in a temporary folder, trusting local
    connections of the `postgres` role."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.data = directory / "data"
        self.socket_dir = directory / "socket"
        self.log = VAR_DIR / f"postgres-{directory.name}.log"
        self.port = free_port()
        self.bin = _postgres_bin()

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def initialize(self) -> None:
        self.socket_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.directory, user=POSTGRES_USER)
            shutil.chown(self.socket_dir, user=POSTGRES_USER)
        subprocess.run(
            _as_postgres(self.bin / "initdb", "-D", self.data, "-U", POSTGRES_USER,
                         "-A", "trust", "--no-sync", "--encoding", "UTF8"),
            check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self.log.touch()
        if os.geteuid() == 0:
            shutil.chown(self.log, user=POSTGRES_USER)
        self._pg_ctl("start", "-w", "-t", "60", "-l", self.log, "-o", options)

    def stop(self) -> None:
        """Stop it at once (`fast`: open sessions are cut, as in an outage)."""
        self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast")

    def _pg_ctl(self, *arguments) -> None:
        subprocess.run(
            _as_postgres(self.bin / "pg_ctl", "-D", self.data, *arguments),
            check=True, capture_output=True, timeout=90,
        )  # fmt: skip

    @contextmanager
    def stopped(self):
        """PostgreSQL is down inside the block, and back afterwards on the same port."""
        self.stop()
        try:
            yield self
        finally:
            self.start()

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"blaxel_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def private_redis():
    """A Redis of this session only, which tests may stop and start
    (`with private_redis.stopped(): ...`)."""
    directory = Path(tempfile.mkdtemp(prefix="blaxel-redis-"))
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def private_postgres():
    """A PostgreSQL cluster of this session only, which tests may stop and start
    (`with private_postgres.stopped(): ...`); `create_database()` gives a fresh one."""
    directory = Path(tempfile.mkdtemp(prefix="blaxel-postgres-"))
    cluster = PrivatePostgres(directory)
    try:
        cluster.initialize()
        cluster.start()
        yield cluster
    finally:
        if cluster.data.exists():
            subprocess.run(
                _as_postgres(cluster.bin / "pg_ctl", "-D", cluster.data, "stop", "-m", "immediate"),
                capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(directory, ignore_errors=True)


def migrate(database_url: str) -> None:
    """Create the project's tables in `database_url` (`manage.py migrate`)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT, env=subprocess_env(DATABASE_URL=database_url), check=True,
        capture_output=True, timeout=300,
    )  # fmt: skip


class CeleryWorker:
    """A Celery worker process (`celery_worker_on`), restarted when it exits if
    `supervised` — as systemd or Kubernetes restart a production worker. (Celery 5.7 /
    kombu 5.7 can exit the worker with "Unrecoverable error: AttributeError" when the
    Redis broker goes away while the worker holds a task it has not acknowledged.)"""

    def __init__(self, command: list[str], env: dict, log, *, supervised: bool):
        self.command, self.env, self.log = command, env, log
        self.supervised = supervised
        self.restarts = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.process = self._start()
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self.log,
                                stderr=subprocess.STDOUT)  # fmt: skip

    def _supervise(self) -> None:
        while not self._stopping.wait(0.2):
            with self._lock:
                if self.supervised and self.process.poll() is not None:
                    self.restarts += 1
                    self.process = self._start()

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine or the OOM killer stops
        it (and no restart)."""
        with self._lock:
            self.supervised = False
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        self._stopping.set()
        self._supervisor.join(timeout=10)
        if self.process.poll() is None:
            stop_process(self.process, timeout=15)


@contextmanager
def celery_worker_on(*, beat: bool = False, supervised: bool = False, **env_overrides):
    """A real Celery worker (one task at a time) with `env_overrides` over the suite's
    child-process environment (e.g. `REDIS_URL` of a private Redis, a `CELERY_QUEUE` of
    its own); `beat`: with Celery beat in the same process, as production runs beat;
    `supervised`: restarted whenever it exits."""
    env = subprocess_env(**env_overrides)
    name = f"celery-{uuid.uuid4().hex[:8]}"
    schedule = Path(tempfile.mkdtemp(prefix="blaxel-beat-")) / "schedule"
    command = [
        sys.executable, "-m", "celery", "-A", "blaxel_console", "worker",
        "--loglevel=INFO", "--concurrency=1", "--pool=threads", "-Q", env["CELERY_QUEUE"],
        "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
        *(("--beat", "--schedule", str(schedule)) if beat else ()),
    ]  # fmt: skip
    with (VAR_DIR / f"{name}.log").open("w") as log:
        worker = CeleryWorker(command, env, log, supervised=supervised)
        try:
            yield worker
        finally:
            worker.stop()
            shutil.rmtree(schedule.parent, ignore_errors=True)


# Run by `manage.py shell` on a private database: the admin "ada@example.com" of "acme",
# whose model API "my-gpt" calls the provider at SEED_BASE_URL; prints a personal key.
SEED_SCRIPT = """
import json, os
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from integrations.models import IntegrationConnection
from models_api.models import ModelAPI, ModelAPIConnection
from workspaces.services import personal_api_key_create, workspace_create

user = get_user_model().objects.create_user(
    username="ada", email="ada@example.com", password=os.environ["SEED_PASSWORD"]
)
EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
workspace = workspace_create(name="acme", display_name="Acme Corp", creator=user)
connection = IntegrationConnection.objects.create(
    workspace=workspace, name="openai-main", integration="openai",
    config={"baseUrl": os.environ["SEED_BASE_URL"]},
    secret=json.dumps({"apiKey": os.environ["SEED_PROVIDER_KEY"]}),
    status=IntegrationConnection.Status.VALID,
)
model_api = ModelAPI.objects.create(
    workspace=workspace, name="my-gpt", display_name="my-gpt", runtime_type="openai",
    runtime_model="gpt-4o-mini", status=ModelAPI.Status.DEPLOYED,
)
ModelAPIConnection.objects.create(model_api=model_api, connection=connection, position=0)
print(personal_api_key_create(user=user, name="faults")[1])
"""


def seed_workspace(database_url: str, *, provider_base_url: str, provider_key: str,
                   password: str) -> str:  # fmt: skip
    """Fill a migrated private database with `acme` (admin "ada@example.com" with
    `password`) and its model API "my-gpt" on the provider; returns ada's API key."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED_SCRIPT],
        cwd=ROOT, check=True, capture_output=True, text=True, timeout=300,
        env=subprocess_env(DATABASE_URL=database_url, SEED_BASE_URL=provider_base_url,
                           SEED_PROVIDER_KEY=provider_key, SEED_PASSWORD=password),
    )  # fmt: skip
    return result.stdout.strip().splitlines()[-1]
