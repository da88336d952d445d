"""People and machines of the test workspaces: users, the workspaces `acme` and `globex`,
principals, invitations, service accounts, personal keys, Django and DRF clients per
role, and the login redirect a signed-out visitor gets."""

import re
import uuid

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import override_settings

PASSWORD = "correct-horse-battery-staple-42"


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 with few iterations. Same algorithm name, and the iteration count is part of
    each hash, so a live server subprocess (with the real settings) still verifies these
    passwords — which a faster hasher of another name (MD5) would not allow."""

    iterations = 1000


@pytest.fixture(autouse=True)
def fast_password_hashing():
    """Every fixture user gets a password; the production hasher's deliberate slowness
    (about a second per user on a busy CI machine) is not what any test is about.

    Not through pytest-django's `settings` fixture: an autouse fixture requesting it would
    set it up before every other fixture of the test, so it would be restored only after
    their teardowns, which then run with the test's own overrides still in place (e.g. an
    unreachable REDIS_URL)."""
    with override_settings(
        PASSWORD_HASHERS=[f"{__name__}.FastPBKDF2PasswordHasher", *settings.PASSWORD_HASHERS]
    ):
        yield


# --- users and workspaces -------------------------------------------------------------------


@pytest.fixture
def make_user(db):
    """`make_user(email, password=PASSWORD)`: a user with a verified primary address."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    def make(email: str, password: str = PASSWORD):
        user = get_user_model().objects.create_user(
            username=email.split("@")[0] + uuid.uuid4().hex[:6], email=email, password=password
        )
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        return user

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("ada@example.com")


@pytest.fixture
def member_user(make_user):
    return make_user("max@example.com")


@pytest.fixture
def outsider(make_user):
    return make_user("olga@other.example.com")


@pytest.fixture
def workspace(admin_user, member_user):
    """`acme`: admin_user is admin, member_user is member."""
    from workspaces.models import Membership
    from workspaces.permissions import Role
    from workspaces.services import workspace_create

    workspace = workspace_create(name="acme", display_name="Acme Corp", creator=admin_user)
    Membership.objects.create(workspace=workspace, user=member_user, role=Role.MEMBER)
    return workspace


@pytest.fixture
def other_workspace(outsider):
    """`globex`, where only `outsider` is a member (admin)."""
    from workspaces.services import workspace_create

    return workspace_create(name="globex", display_name="Globex", creator=outsider)


@pytest.fixture
def admin_principal(admin_user):
    """`acme`'s admin as the principal the services take (`actor=`)."""
    from workspaces.principals import Principal

    return Principal.for_user(admin_user)


@pytest.fixture
def actor(admin_principal):
    """`admin_principal` under the name the integrations and model-API tests use."""
    return admin_principal


# --- logged-in clients ------------------------------------------------------------------------


def logged_in_client(user):
    """A Django test client logged in as `user` (no password check)."""
    from django.test import Client

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def assert_login_redirect(response, path):
    """The response sends a signed-out visitor to log in, and back to `path` after."""
    from django.urls import reverse

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={path}"


@pytest.fixture
def admin_client(workspace, admin_user):
    return logged_in_client(admin_user)


@pytest.fixture
def member_client(workspace, member_user):
    return logged_in_client(member_user)


@pytest.fixture
def outsider_client(other_workspace, outsider):
    return logged_in_client(outsider)


@pytest.fixture
def clients(admin_client, member_client, outsider_client, client):
    """One Django client per kind of visitor of `acme`."""
    return {
        "admin": admin_client,
        "member": member_client,
        "outsider": outsider_client,
        "anonymous": client,
    }


# --- API keys and API clients -------------------------------------------------------------


@pytest.fixture
def personal_key():
    """`personal_key(user) -> raw key`."""
    from workspaces.services import personal_api_key_create

    def make(user, name="test key", expires_in="never"):
        return personal_api_key_create(user=user, name=name, expires_in=expires_in)[1]

    return make


@pytest.fixture
def member_key(workspace, member_user, personal_key):
    """A raw personal key of `acme`'s member."""
    return personal_key(member_user)


@pytest.fixture
def api_client_for(personal_key):
    """`api_client_for(user, workspace_name)`: a DRF client with the user's personal key
    and the workspace header set."""
    from rest_framework.test import APIClient

    def make(user, workspace_name: str | None = "acme"):
        client = APIClient()
        headers = {"HTTP_AUTHORIZATION": f"Bearer {personal_key(user)}"}
        if workspace_name:
            headers["HTTP_X_BLAXEL_WORKSPACE"] = workspace_name
        client.credentials(**headers)
        return client

    return make


@pytest.fixture
def admin_api(workspace, admin_user, api_client_for):
    return api_client_for(admin_user, "acme")


@pytest.fixture
def member_api(workspace, member_user, api_client_for):
    return api_client_for(member_user, "acme")


@pytest.fixture
def outsider_api(workspace, other_workspace, outsider, api_client_for):
    """The outsider's key, aimed at `acme` (which they cannot reach)."""
    return api_client_for(outsider, "acme")


# --- service accounts and invitations -------------------------------------------------------


def make_service_account(workspace, *, name: str, role: str = "member", by_user):
    """A service account of `workspace` created by `by_user` through the service."""
    from workspaces import services
    from workspaces.principals import Principal

    return services.service_account_create(
        workspace=workspace, name=name, role=role, actor=Principal.for_user(by_user)
    )


def make_service_account_key(service_account, *, by_user, expires_in: str = "never"):
    """Returns (ApiKey row, raw key)."""
    from workspaces import services
    from workspaces.principals import Principal

    return services.service_account_api_key_create(
        service_account=service_account,
        name="test",
        expires_in=expires_in,
        actor=Principal.for_user(by_user),
    )


@pytest.fixture
def service_account(workspace, admin_principal):
    """`acme`'s service account "ci-bot"."""
    from workspaces import services

    return services.service_account_create(
        workspace=workspace, name="ci-bot", description="CI", actor=admin_principal
    )


@pytest.fixture
def other_service_account(other_workspace, outsider):
    """`globex`'s service account "globex-bot"."""
    from workspaces import services
    from workspaces.principals import Principal

    return services.service_account_create(
        workspace=other_workspace, name="globex-bot", actor=Principal.for_user(outsider)
    )


@pytest.fixture
def invitation(workspace, admin_principal, django_capture_on_commit_callbacks, mailoutbox):
    """A pending invitation of `acme` for new@example.com, and the token from its mail."""
    from workspaces import services

    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            workspace=workspace, email="new@example.com", role="member", actor=admin_principal
        )
    return invitation, token_from_mail(mailoutbox[-1])


def token_from_mail(message) -> str:
    """The invitation token in the link of an invitation mail."""
    return re.search(r"/invitations/([\w-]+)/", message.body).group(1)
