"""The suite's own plugins where a test author would notice them: fixture users' passwords
are cheap to hash yet accepted by a live server running the production hashers."""

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from blaxel_console.testing.people import PASSWORD


@pytest.mark.django_db
def test_fixture_passwords_are_cheap_and_verify_with_the_production_hasher(admin_user):
    production = PBKDF2PasswordHasher()
    hashed = admin_user.password
    assert production.decode(hashed)["iterations"] < production.iterations
    # What a live server subprocess (real settings) does when a browser test signs in.
    assert production.verify(PASSWORD, hashed)
