"""Bad input, continuously: schemathesis generates calls from `/v0/schema` — valid and
invalid bodies, parameters and headers — and sends them to a live server with a
populated workspace, once with a member's key and once with an admin's. Every answer
must be documented by the schema (status, content type, body shape), none may be a
server error, and the expected refusals (403, 404) leave no traceback in the server log.

Bounded (a few examples per operation, a fixed seed: the same calls on every run) so
that it fits CI; its report is kept in `var/schemathesis-<role>.txt`.
"""

import subprocess
import sys

import pytest

from blaxel_console.testing.run import VAR_DIR
from blaxel_console.testing.servers import log_path_of, run_asgi_server

pytestmark = [
    pytest.mark.faults,
    pytest.mark.live,
    pytest.mark.usefixtures("settled_background_work", "usage_written_before_teardown"),
]

# What the schema promises of every answer (schemathesis' names for its checks).
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
SEED = 20261201
# Parameters every generated call carries as they are: the workspace the keys reach, and
# for the calls on a workspace itself (leave, delete) one kept for them.
FIXED_PARAMETERS = """
[parameters]
"X-Blaxel-Workspace" = "acme"
"workspace" = "acme"
"workspace_name" = "initech"
"""
# (phases, examples per operation), about two minutes in all on a quiet machine: the
# member's calls, mostly refused, are fuzzed; the admin's also go through the coverage
# phase (each parameter's boundary and invalid values) and the stateful one (a created
# object is read, changed, deleted).
RUNS = {
    "member": ("fuzzing", 10),
    "admin": ("coverage,fuzzing,stateful", 6),
}


@pytest.fixture
def populated_workspace(
    workspace,
    other_workspace,
    openai_connection,
    make_model_api,
    service_account,
    invitation,
    admin_principal,
    admin_user,
    member_user,
):
    """`acme` with a connection, a model API with a policy attached, a service account
    with a key, a pending invitation; `globex`, another workspace; and `initech`, where
    both people of `acme` are too, for the calls on a workspace itself."""
    from blaxel_console.testing.people import make_service_account_key
    from models_api.policies import services as policy_services
    from workspaces.models import Membership
    from workspaces.permissions import Role
    from workspaces.services import workspace_create

    model_api = make_model_api("my-gpt")
    policy = policy_services.policy_create(
        workspace=workspace,
        name="daily-cap",
        actor=admin_principal,
        type="maxToken",
        granularity="day",
        max_total_tokens=100000,
    )
    policy_services.model_api_set_policies(
        model_api=model_api, policy_names=[policy.name], actor=admin_principal
    )
    make_service_account_key(service_account, by_user=admin_user)
    initech = workspace_create(name="initech", display_name="Initech", creator=admin_user)
    Membership.objects.create(workspace=initech, user=member_user, role=Role.MEMBER)
    return workspace


def run_schemathesis(server: str, key: str, role: str, tmp_path) -> int:
    """The schemathesis CLI against the server's schema with `key`; its exit status (its
    report goes to `var/schemathesis-<role>.txt`)."""
    config = tmp_path / "schemathesis.toml"
    config.write_text(FIXED_PARAMETERS)
    phases, examples = RUNS[role]
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", f"{server}/v0/schema", "--url", server,
        "--header", f"Authorization: Bearer {key}",
        "--checks", ",".join(CHECKS), "--phases", phases,
        "--max-examples", str(examples), "--seed", str(SEED),
        "--workers", "1", "--request-timeout", "30", "--generation-database", "none",
    ]  # fmt: skip
    with (VAR_DIR / f"schemathesis-{role}.txt").open("w") as report:
        return subprocess.run(
            command, stdout=report, stderr=subprocess.STDOUT, cwd=tmp_path, timeout=600
        ).returncode


def test_v0_answers_every_generated_call_as_its_schema_says(
    populated_workspace, admin_user, member_user, personal_key, tmp_path
):
    # The member first: the admin's calls remove people and objects.
    keys = {"member": personal_key(member_user), "admin": personal_key(admin_user)}
    with run_asgi_server(access_log=True) as server:
        statuses = {
            role: run_schemathesis(server, key, role, tmp_path) for role, key in keys.items()
        }
    for role, status in statuses.items():
        report = (VAR_DIR / f"schemathesis-{role}.txt").read_text()
        assert status == 0, f"with the {role}'s key:\n{report}"
    log = log_path_of(server).read_text()
    assert '" 403 Forbidden' in log and '" 404 Not Found' in log  # refusals were answered ...
    assert "Traceback" not in log  # ... and printed no traceback
