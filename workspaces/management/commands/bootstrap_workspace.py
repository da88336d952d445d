"""`manage.py bootstrap_workspace`: a first admin, workspace and API key for scripted
deployments (DESIGN.md §10).

    KEY=$(python manage.py bootstrap_workspace --email ops@example.com --workspace acme)

Creates the user if missing, the workspace (with that user as admin) if missing, and a
new personal API key every time. Progress goes to stderr; stdout carries only the key,
so the key is the last (and only) line of the command's standard output.
"""

import os

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from workspaces import access, selectors, services
from workspaces.permissions import Role
from workspaces.principals import Principal

User = get_user_model()


def _messages(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(message for item in items for message in item.messages)}"
            for field, items in error.error_dict.items()
        )
    return " ".join(error.messages)


class Command(BaseCommand):
    help = (
        "Create (if missing) a user and a workspace where that user is admin, then a new "
        "personal API key for the user. Prints only the key on stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The admin's email address.")
        parser.add_argument("--workspace", required=True, help="The workspace name (slug).")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="Environment variable holding the password of a new user. Without it a new "
            "user gets an unusable password (they can reset it by email).",
        )
        parser.add_argument(
            "--display-name",
            default="",
            help="Display name of a new workspace (default: its name).",
        )

    def handle(self, *args, **options):
        email = User.objects.normalize_email(options["email"].strip())
        try:
            validate_email(email)
        except ValidationError as error:
            raise CommandError(f"Invalid --email “{email}”: {_messages(error)}") from error
        password = self._password(options["password_from_env"], email)

        # All or nothing: a bad workspace name must not leave a half-made user behind.
        # What was done is reported only once it is committed.
        self.notes: list[str] = []
        with transaction.atomic():
            user = self._user(email, password)
            workspace = self._workspace(options["workspace"], options["display_name"], user)
            _api_key, raw_key = services.personal_api_key_create(
                user=user, name=f"bootstrap {timezone.now():%Y-%m-%d %H:%M:%S}"
            )
        for note in self.notes:
            self.stderr.write(note)
        self.stderr.write(f"New personal API key for {email} (shown once; it reaches {workspace}):")
        self.stdout.write(raw_key)

    def _password(self, variable: str | None, email: str) -> str | None:
        if variable is None:
            return None
        password = os.environ.get(variable)
        if not password:
            raise CommandError(
                f"--password-from-env: the environment variable {variable} is empty or unset."
            )
        try:
            validate_password(password, User(email=email))
        except ValidationError as error:
            raise CommandError(
                f"The password in {variable} is too weak: {_messages(error)}"
            ) from error
        return password

    def _user(self, email: str, password: str | None):
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            self.notes.append(f"User {user.email} exists (password left unchanged).")
            return user
        user = User(email=email, username=get_adapter().generate_unique_username([email, "admin"]))
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        # The operator vouches for the address: mark it verified so logging in works even
        # when email verification is mandatory.
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        self.notes.append(f"Created user {email}.")
        return user

    def _workspace(self, name: str, display_name: str, user):
        workspace = selectors.workspace_get(name=name)
        if workspace is None:
            try:
                workspace = services.workspace_create(
                    name=name, display_name=display_name, creator=user
                )
            except ValidationError as error:
                raise CommandError(f"Invalid --workspace “{name}”: {_messages(error)}") from error
            self.notes.append(f"Created workspace {name} with {user.email} as admin.")
            return workspace
        principal = Principal.for_user(user)
        if access.role_in_workspace(principal, workspace) != Role.ADMIN:
            raise CommandError(
                f"The workspace “{name}” exists and {user.email} is not its admin; "
                "choose another workspace name or an admin's email."
            )
        self.notes.append(f"Workspace {name} exists; {user.email} is its admin.")
        return workspace
