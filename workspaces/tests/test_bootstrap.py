"""`manage.py bootstrap_workspace`: first admin, workspace and API key for scripts."""

import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from blaxel_console.testing.api import key_client
from blaxel_console.testing.run import ROOT
from blaxel_console.testing.servers import subprocess_env
from workspaces.keys import hash_key
from workspaces.models import ApiKey, Membership, Workspace
from workspaces.permissions import Role

User = get_user_model()
PASSWORD = "a-long-bootstrap-passphrase-7"


def bootstrap(*args) -> tuple[str, str]:
    """Run the command; returns (stdout, stderr)."""
    stdout, stderr = StringIO(), StringIO()
    call_command("bootstrap_workspace", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


@pytest.mark.django_db
def test_creates_user_workspace_and_key(monkeypatch):
    monkeypatch.setenv("BOOT_PASSWORD", PASSWORD)
    stdout, stderr = bootstrap(
        "--email", "ops@example.com", "--workspace", "demo",
        "--password-from-env", "BOOT_PASSWORD", "--display-name", "Demo Co",
    )  # fmt: skip
    lines = stdout.splitlines()
    assert len(lines) == 1  # only the key on stdout
    raw_key = lines[-1]
    user = User.objects.get(email="ops@example.com")
    assert user.check_password(PASSWORD)
    assert user.emailaddress_set.get().verified
    workspace = Workspace.objects.get(name="demo")
    assert workspace.display_name == "Demo Co"
    assert Membership.objects.get(workspace=workspace, user=user).role == Role.ADMIN
    row = ApiKey.objects.get(user=user)
    assert row.key_hash == hash_key(raw_key)
    assert row.expires_at is None
    assert "Created user ops@example.com" in stderr
    assert raw_key not in stderr
    # The key works on /v0 with admin rights.
    client = key_client(raw_key, "demo")
    assert [w["name"] for w in client.get("/v0/workspaces").json()] == ["demo"]
    users = client.get("/v0/users").json()
    assert [(u["email"], u["role"]) for u in users] == [("ops@example.com", "admin")]
    assert client.post("/v0/service_accounts", {"name": "ci"}, format="json").status_code == 200


@pytest.mark.django_db
def test_is_idempotent_apart_from_the_new_key(monkeypatch):
    monkeypatch.setenv("BOOT_PASSWORD", PASSWORD)
    first, _ = bootstrap(
        "--email", "ops@example.com", "--workspace", "demo", "--password-from-env", "BOOT_PASSWORD"
    )
    monkeypatch.setenv("BOOT_PASSWORD", "another-passphrase-entirely-9")
    second, stderr = bootstrap(
        "--email", "OPS@example.com", "--workspace", "demo", "--password-from-env", "BOOT_PASSWORD"
    )
    assert first.strip() != second.strip()
    assert User.objects.count() == 1
    assert User.objects.get().check_password(PASSWORD)  # an existing password is kept
    assert Workspace.objects.count() == 1
    assert Membership.objects.count() == 1
    assert ApiKey.objects.count() == 2
    assert "exists" in stderr
    for raw_key in (first.strip(), second.strip()):
        assert key_client(raw_key, "demo").get("/v0/users").status_code == 200


@pytest.mark.django_db
def test_without_password_the_user_cannot_log_in_with_one():
    bootstrap("--email", "ops@example.com", "--workspace", "demo")
    assert not User.objects.get().has_usable_password()


@pytest.mark.django_db
def test_existing_user_gets_a_new_workspace(admin_user):
    stdout, _ = bootstrap("--email", admin_user.email, "--workspace", "second")
    assert Membership.objects.get(workspace__name="second").user == admin_user
    assert key_client(stdout.strip(), "second").get("/v0/users").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email", "--workspace", "demo"], "Invalid --email"),
        (["--email", "a@example.com", "--workspace", "Bad Name"], "Invalid --workspace"),
        (["--email", "a@example.com", "--workspace", "v0"], "reserved"),
        (["--email", "a@example.com", "--workspace", "x" * 41], "Invalid --workspace"),
        (
            ["--email", "a@example.com", "--workspace", "demo", "--password-from-env", "UNSET_V"],
            "UNSET_V is empty or unset",
        ),
        (
            ["--email", "a@example.com", "--workspace", "demo", "--password-from-env", "WEAK_V"],
            "too weak",
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_creates_nothing(monkeypatch, args, message):
    monkeypatch.delenv("UNSET_V", raising=False)
    monkeypatch.setenv("WEAK_V", "12345678")
    with pytest.raises(CommandError, match=message):
        bootstrap(*args)
    assert not User.objects.exists()
    assert not Workspace.objects.exists()
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_refuses_a_workspace_where_the_user_is_not_admin(workspace, member_user, outsider):
    for email in (member_user.email, outsider.email, "newcomer@example.com"):
        with pytest.raises(CommandError, match="is not its admin"):
            bootstrap("--email", email, "--workspace", "acme")
    assert not ApiKey.objects.exists()
    assert not User.objects.filter(email="newcomer@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_real_command_line_prints_the_key_last():
    """As a deployment script runs it: `KEY=$(manage.py bootstrap_workspace ...)`."""
    env = subprocess_env(BOOT_PASSWORD=PASSWORD)
    command = [
        sys.executable, "manage.py", "bootstrap_workspace",
        "--email", "cli@example.com", "--workspace", "cli", "--password-from-env", "BOOT_PASSWORD",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    raw_key = result.stdout.strip()
    assert result.stdout.splitlines() == [raw_key]
    assert raw_key.startswith("bl_")
    # Merged output too ends with the key.
    merged = subprocess.run(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=120, check=True,
    )  # fmt: skip
    assert merged.stdout.strip().splitlines()[-1].startswith("bl_")
    assert key_client(raw_key, "cli").get("/v0/users").status_code == 200
    assert ApiKey.objects.filter(user__email="cli@example.com").count() == 2
