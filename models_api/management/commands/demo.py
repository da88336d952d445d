"""`manage.py demo` (or `python3 dev.py demo`): see a call work end to end, offline.

Starts the project's fake OpenAI server and the console (uvicorn) side by side, with a
demo user, the workspace `demo`, a connection to the fake server and the model API
`demo-gpt`, then prints the login, the fake server's URL and the keys it accepts (to
repeat the setup by hand), and a ready-to-run curl command and OpenAI SDK snippet.
Ctrl+C stops both servers.

The fake server listens on 127.0.0.1, which a connection may not reach by default
(DESIGN.md §5); the demo allows loopback for its own processes only, never in settings.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from blaxel_console.readiness import ServerNotServing, wait_until_serving

LOOPBACK = ["127.0.0.1", "localhost", "::1"]
DEMO_EMAIL = "demo@example.com"
DEMO_WORKSPACE = "demo"
DEMO_CONNECTION = "fake-openai"
DEMO_MODEL_API = "demo-gpt"
DEMO_MODEL = "gpt-4o-mini"
DEMO_KEY_NAME = "demo"


@dataclass(frozen=True)
class Demo:
    email: str
    password: str
    api_key: str
    site_url: str

    @property
    def endpoint(self) -> str:
        return f"{self.site_url}/run/{DEMO_WORKSPACE}/models/{DEMO_MODEL_API}/v1"

    def curl(self) -> str:
        return (
            f"curl -sS {self.endpoint}/chat/completions \\\n"
            f'  -H "Authorization: Bearer {self.api_key}" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f'  -d \'{{"model": "{DEMO_MODEL}", '
            '"messages": [{"role": "user", "content": "Hello!"}]}\''
        )

    def python(self) -> str:
        return (
            "from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{self.endpoint}", api_key="{self.api_key}")\n'
            "stream = client.chat.completions.create(\n"
            f'    model="{DEMO_MODEL}",\n'
            '    messages=[{"role": "user", "content": "Hello!"}],\n'
            "    stream=True,\n"
            ")\n"
            "for chunk in stream:\n"
            '    print(chunk.choices[0].delta.content or "", end="", flush=True)\n'
            "print()"
        )


def set_up_demo(*, fake_base_url: str, fake_key: str, site_url: str) -> Demo:
    """Create or refresh the demo user, workspace, connection, model API and a new key.

    Idempotent: a second run points the connection at the current fake server, enables
    the model API again, sets a new password and replaces the previous demo key.
    """
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from integrations.models import IntegrationConnection
    from integrations.services import integration_connection_create, integration_connection_update
    from models_api.models import ModelAPI
    from models_api.services import model_api_create, model_api_update
    from workspaces import services as workspace_services
    from workspaces.models import ApiKey, Workspace
    from workspaces.principals import Principal

    User = get_user_model()
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user = User.objects.filter(email__iexact=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_user(username="demo", email=DEMO_EMAIL)
        user.set_password(password)
        user.is_active = True
        user.save()
        EmailAddress.objects.update_or_create(
            user=user, email=DEMO_EMAIL, defaults={"primary": True, "verified": True}
        )
        actor = Principal.for_user(user)
        workspace = Workspace.objects.filter(name=DEMO_WORKSPACE).first()
        if workspace is None:
            workspace = workspace_services.workspace_create(
                name=DEMO_WORKSPACE, display_name="Demo", creator=user
            )
        elif not workspace.memberships.filter(user=user).exists():
            raise CommandError(
                f"A workspace named “{DEMO_WORKSPACE}” exists and {DEMO_EMAIL} is not in it."
            )

        config = {"baseUrl": fake_base_url}
        secret = {"apiKey": fake_key}
        connection = IntegrationConnection.objects.filter(
            workspace=workspace, name=DEMO_CONNECTION
        ).first()
        if connection is None:
            connection = integration_connection_create(
                workspace=workspace,
                name=DEMO_CONNECTION,
                integration="openai",
                config=config,
                secret=secret,
                display_name="Fake OpenAI (local)",
                actor=actor,
            )
        else:
            connection = integration_connection_update(
                connection=connection, actor=actor, config=config, secret=secret
            )

        model_api = ModelAPI.objects.filter(workspace=workspace, name=DEMO_MODEL_API).first()
        if model_api is None:
            model_api_create(
                workspace=workspace,
                name=DEMO_MODEL_API,
                display_name="Demo GPT",
                connections=[connection],
                model=DEMO_MODEL,
                actor=actor,
            )
        else:
            model_api_update(
                model_api=model_api,
                actor=actor,
                enabled=True,
                connections=[connection],
                model=DEMO_MODEL,
            )

        for old_key in ApiKey.objects.active().filter(user=user, name=DEMO_KEY_NAME):
            workspace_services.api_key_revoke(api_key=old_key, actor=actor)
        _, api_key = workspace_services.personal_api_key_create(user=user, name=DEMO_KEY_NAME)
    return Demo(email=DEMO_EMAIL, password=password, api_key=api_key, site_url=site_url)


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Command(BaseCommand):
    help = (
        "Start the console with a demo user, workspace, connection to a local fake OpenAI "
        "server and model API, and print a ready-to-run call. Ctrl+C stops it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--fake-port", type=int, default=8100)

    def handle(self, *args, **options):
        host, port, fake_port = options["host"], options["port"], options["fake_port"]
        # Listening on every interface is the user's choice; the printed URLs use loopback.
        any_interface = host in ("0.0.0.0", "::")  # noqa: S104 - a comparison, not a bind
        site_url = f"http://{'127.0.0.1' if any_interface else host}:{port}"
        fake_url = f"http://127.0.0.1:{fake_port}"
        fake_key = "sk-demo-" + secrets.token_urlsafe(16)
        # A second key the fake accepts, to try "Replace key" or a second connection.
        spare_key = "sk-demo-" + secrets.token_urlsafe(16)
        call_command("migrate", interactive=False, verbosity=0)

        # Loopback for this process (the connection's checks) and the two servers only.
        settings.UPSTREAM_ALLOWED_HOSTS = [*settings.UPSTREAM_ALLOWED_HOSTS, *LOOPBACK]
        child_env = {
            **os.environ,
            "UPSTREAM_ALLOWED_HOSTS": ",".join(settings.UPSTREAM_ALLOWED_HOSTS),
            "SITE_URL": site_url,
            "PYTHONUNBUFFERED": "1",
        }
        # Ctrl+C (even when started from a shell that ignores it in background jobs) and a
        # plain `kill` both stop the two servers through the `finally` below.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        fake = console = None
        try:
            # This interpreter running project modules with our own arguments.
            fake = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "integrations.fake_openai", "--host", "127.0.0.1",
                 "--port", str(fake_port), "--keys", f"{fake_key},{spare_key}"],
                env=child_env,
            )  # fmt: skip
            wait_until_serving(
                f"{fake_url}/_fake/health", process=fake, name="The fake OpenAI server"
            )
            demo = set_up_demo(fake_base_url=f"{fake_url}/v1", fake_key=fake_key, site_url=site_url)
            console = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "uvicorn", "blaxel_console.asgi:application",
                 "--host", host, "--port", str(port), "--no-access-log"],
                env=child_env,
            )  # fmt: skip
            wait_until_serving(f"{site_url}/healthz", process=console, name="The console")
            self._announce(demo, fake_url, fake_keys=(fake_key, spare_key))
            while fake.poll() is None and console.poll() is None:
                time.sleep(0.5)
            raise CommandError("A demo server stopped unexpectedly.")
        except ServerNotServing as error:
            raise CommandError(f"{error}.") from error
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo…")
        finally:
            # Ctrl+C reaches the children too (same process group); make sure they end.
            for process in (console, fake):
                with _ignoring_interrupts():
                    _stop(process)

    def _announce(self, demo: Demo, fake_url: str, *, fake_keys: tuple[str, str]) -> None:
        rule = "-" * 72
        self.stdout.write(
            "\n".join(
                [
                    "",
                    rule,
                    "Blaxel Console demo is running (offline: the provider is a local fake).",
                    "",
                    f"  Console:   {demo.site_url}/{DEMO_WORKSPACE}/models/{DEMO_MODEL_API}/",
                    f"  Sign in:   {demo.email}",
                    f"  Password:  {demo.password}",
                    f"  API key:   {demo.api_key}",
                    f"  Endpoint:  {demo.endpoint}",
                    "",
                    "The provider is a local fake OpenAI server. To repeat the setup by hand",
                    "(Workspace settings → Integrations → OpenAI → Create integration):",
                    "",
                    f"  Base URL:  {fake_url}/v1   (Optional settings; loopback is allowed",
                    "             for the demo's own processes only)",
                    f"  Fake key:  {fake_keys[0]}   (the connection “{DEMO_CONNECTION}” uses it)",
                    f"  Spare key: {fake_keys[1]}   (also accepted: try Replace key with it)",
                    f"  Model:     {DEMO_MODEL} (or any model of the fake's catalog)",
                    "",
                    "Call the model API with curl:",
                    "",
                    demo.curl(),
                    "",
                    "or with the OpenAI Python SDK (pip install openai):",
                    "",
                    demo.python(),
                    "",
                    "Press Ctrl+C to stop.",
                    rule,
                    "",
                ]
            )
        )
        self.stdout.flush()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class _ignoring_interrupts:
    """A second Ctrl+C while the servers stop must not leave them running."""

    def __enter__(self):
        self.previous = [
            (number, signal.signal(number, signal.SIG_IGN))
            for number in (signal.SIGINT, signal.SIGTERM)
        ]

    def __exit__(self, *exc_info):
        for number, handler in self.previous:
            signal.signal(number, handler)
