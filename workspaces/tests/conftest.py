"""Fixtures of the workspaces screens' tests."""

import re

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from workspaces import services
from workspaces.principals import Principal


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 with few iterations. Same algorithm name, and the iteration count is part of
    each hash, so a live server subprocess (with the real settings) still verifies these
    passwords."""

    iterations = 1000


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every fixture user gets a password; the production hasher's deliberate slowness
    (~1 s per user on a busy CI machine) is not what these tests are about."""
    settings.PASSWORD_HASHERS = [
        "workspaces.tests.conftest.FastPBKDF2PasswordHasher",
        *settings.PASSWORD_HASHERS,
    ]


@pytest.fixture
def clients(admin_client, member_client, outsider_client, client):
    """One Django client per kind of visitor of `acme`."""
    return {
        "admin": admin_client,
        "member": member_client,
        "outsider": outsider_client,
        "anonymous": client,
    }


@pytest.fixture
def admin_principal(admin_user):
    return Principal.for_user(admin_user)


@pytest.fixture
def service_account(workspace, admin_principal):
    return services.service_account_create(
        workspace=workspace, name="ci-bot", description="CI", actor=admin_principal
    )


@pytest.fixture
def other_service_account(other_workspace, outsider):
    return services.service_account_create(
        workspace=other_workspace, name="globex-bot", actor=Principal.for_user(outsider)
    )


@pytest.fixture
def invitation(workspace, admin_principal, django_capture_on_commit_callbacks, mailoutbox):
    """A pending invitation of `acme` for new@example.com, and the token from its mail."""
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            workspace=workspace, email="new@example.com", role="member", actor=admin_principal
        )
    return invitation, token_from_mail(mailoutbox[-1])


def token_from_mail(message) -> str:
    return re.search(r"/invitations/([\w-]+)/", message.body).group(1)
