"""The whole onboarding flow in real Chromium against a live ASGI server: sign up, create
a workspace, invite a member (the link read from the mail the server wrote), the member
signs up with the invited address, accepts, and sees the workspace with member rights."""

import email
import re
from email import policy
from pathlib import Path

import pytest
from playwright.sync_api import expect

from blaxel_console.testing.browser import screenshot
from blaxel_console.testing.people import PASSWORD
from blaxel_console.testing.servers import run_asgi_server

pytestmark = [pytest.mark.browser, pytest.mark.live]

MAIL_SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def sent_mail(mail_dir: Path) -> list[email.message.EmailMessage]:
    """Every message Django's file-based email backend wrote under `mail_dir`."""
    messages = []
    for path in sorted(mail_dir.glob("*.log")):
        for chunk in path.read_bytes().split(MAIL_SEPARATOR):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk.strip(), policy=policy.default))
    return messages


def invitation_link(mail_dir: Path, recipient: str) -> str:
    for message in sent_mail(mail_dir):
        if message["To"] == recipient and "invited" in message["Subject"]:
            body = message.get_body(preferencelist=("plain",)).get_content()
            return re.search(r"https?://\S+/invitations/[\w-]+/", body).group(0)
    raise AssertionError(f"no invitation mail for {recipient}")


@pytest.fixture
def live_server_with_mail(transactional_db, tmp_path):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    # Four slashes: django-environ drops the first one of the path.
    with run_asgi_server(EMAIL_URL=f"filemail:///{mail_dir}") as url:
        yield url, mail_dir


def sign_up(page, email_address: str):
    page.get_by_label("Email").fill(email_address)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()


def test_sign_up_create_workspace_invite_and_join_as_member(live_server_with_mail, browser):
    url, mail_dir = live_server_with_mail
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    member_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        admin = admin_context.new_page()
        admin.set_default_timeout(15000)
        admin.on("dialog", lambda dialog: dialog.accept())

        # Signed out, the console sends people to the login page.
        admin.goto(url + "/")
        expect(admin).to_have_url(re.compile(r"/accounts/login/"))
        screenshot(admin, "screens-01-login")
        admin.get_by_role("link", name="sign up").first.click()
        expect(admin.get_by_role("heading", name="Sign Up")).to_be_visible()
        screenshot(admin, "screens-02-signup")
        sign_up(admin, "founder@example.com")

        # No workspace yet: asked to create one.
        expect(admin.get_by_role("heading", name="Create your workspace")).to_be_visible()
        admin.get_by_label("Name", exact=True).fill("Bad Name!")
        admin.get_by_role("button", name="Create workspace").click()
        expect(admin.locator(".errorlist")).to_contain_text("lowercase letters")
        screenshot(admin, "screens-03-create-workspace-error")
        admin.get_by_label("Name", exact=True).fill("acme-labs")
        admin.get_by_label("Display name").fill("Acme Labs")
        admin.get_by_role("button", name="Create workspace").click()
        expect(admin.get_by_text("Workspace “Acme Labs” created.")).to_be_visible()

        # The header's workspace switcher lists it.
        admin.get_by_label("Switch workspace").click()
        expect(
            admin.locator(".workspace-menu .menu-panel").get_by_role("link", name="Acme Labs")
        ).to_be_visible()
        admin.keyboard.press("Escape")

        admin.goto(url + "/acme-labs/settings/")
        expect(admin.get_by_role("button", name="Delete this workspace")).to_be_visible()
        screenshot(admin, "screens-04-settings-admin")

        # Invite a member.
        admin.get_by_role("navigation", name="Workspace settings").get_by_role(
            "link", name="Team"
        ).click()
        admin.get_by_label("Email").fill("newbie@example.com")
        admin.get_by_label("Role", exact=True).select_option("member")
        admin.get_by_role("button", name="Send invitation").click()
        expect(admin.get_by_text("Invitation sent to newbie@example.com.")).to_be_visible()
        expect(admin.locator("table").last).to_contain_text("newbie@example.com")
        screenshot(admin, "screens-05-team-admin")

        # A service account with a key, shown once.
        admin.goto(url + "/acme-labs/settings/service-accounts/")
        admin.get_by_label("Name").fill("ci-bot")
        admin.get_by_label("Description").fill("Deploys from CI")
        admin.get_by_role("button", name="Create service account").click()
        expect(admin.get_by_role("heading", name="ci-bot")).to_be_visible()
        admin.get_by_label("Name").fill("deploy")
        admin.get_by_label("Expires after").select_option("1w")
        admin.get_by_role("button", name="Create key").click()
        raw_key = admin.get_by_label("New API key").input_value()
        assert raw_key.startswith("bl_")
        screenshot(admin, "screens-06-service-account-key-once")
        admin.goto(admin.url)  # a GET of the same page (a reload would repeat the POST)
        expect(admin.get_by_role("heading", name="ci-bot")).to_be_visible()
        assert raw_key not in admin.content()

        admin.goto(url + "/profile/security/")
        admin.get_by_label("Name").fill("laptop")
        admin.get_by_role("button", name="Create key").click()
        expect(admin.get_by_text("shown only this once")).to_be_visible()
        screenshot(admin, "screens-07-profile-security")

        admin.goto(url + "/acme-labs/settings/audit-log/")
        expect(admin.locator("table")).to_contain_text("member.invite")
        screenshot(admin, "screens-08-audit-log")

        # The member opens the emailed link, signs up with that address, accepts.
        link = invitation_link(mail_dir, "newbie@example.com")
        assert link.startswith(url)
        member = member_context.new_page()
        member.set_default_timeout(15000)
        member.goto(link)
        expect(member.get_by_role("heading", name="Join Acme Labs")).to_be_visible()
        screenshot(member, "screens-09-invitation-signed-out")
        member.get_by_role("link", name="Sign up as newbie@example.com").click()
        expect(member.get_by_label("Email")).to_have_value("newbie@example.com")
        sign_up(member, "newbie@example.com")
        expect(member.get_by_role("button", name="Accept and join Acme Labs")).to_be_visible()
        screenshot(member, "screens-10-invitation-ready")
        member.get_by_role("button", name="Accept and join Acme Labs").click()
        expect(
            member.get_by_text("You joined the workspace “Acme Labs” as Member.")
        ).to_be_visible()

        # Member rights: read-only settings, no admin buttons, no audit log.
        member.goto(url + "/acme-labs/settings/")
        expect(member.get_by_text("Only admins can change these settings.")).to_be_visible()
        expect(member.get_by_role("button", name="Save")).to_have_count(0)
        expect(member.get_by_role("button", name="Delete this workspace")).to_have_count(0)
        expect(member.get_by_role("link", name="Audit log")).to_have_count(0)
        screenshot(member, "screens-11-settings-member")
        member.goto(url + "/acme-labs/settings/team/")
        expect(member.locator("table").first).to_contain_text("founder@example.com")
        expect(member.locator("table").first).to_contain_text("newbie@example.com")
        expect(member.get_by_role("button", name="Send invitation")).to_have_count(0)
        expect(member.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
        expect(member.locator("select[name=role]")).to_have_count(0)
        expect(member.get_by_role("button", name="Leave workspace")).to_be_visible()
        screenshot(member, "screens-12-team-member")
        member.goto(url + "/acme-labs/settings/service-accounts/")
        expect(member.get_by_role("link", name="ci-bot")).to_be_visible()
        expect(member.get_by_role("button", name="Create service account")).to_have_count(0)
        response = member.goto(url + "/acme-labs/settings/audit-log/")
        assert response.status == 403

        # Back on the admin's side, the member is listed with their role.
        admin.goto(url + "/acme-labs/settings/team/")
        expect(admin.locator("table").first).to_contain_text("newbie@example.com")
        expect(admin.get_by_text("No pending invitations.")).to_be_visible()
    finally:
        admin_context.close()
        member_context.close()


def test_password_reset_and_log_out(live_server_with_mail, page):
    url, mail_dir = live_server_with_mail
    page.goto(url + "/accounts/signup/")
    sign_up(page, "forgetful@example.com")
    expect(page.get_by_role("heading", name="Create your workspace")).to_be_visible()

    # Log out from the user menu.
    page.locator("details.usermenu > summary").click()
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("forgetful@example.com")
    screenshot(page, "screens-20-password-reset")
    page.get_by_role("button", name="Reset My Password").click()
    expect(page.get_by_role("heading", name="Password Reset")).to_be_visible()
    screenshot(page, "screens-21-password-reset-sent")

    reset_mail = next(m for m in sent_mail(mail_dir) if "Password Reset" in m["Subject"])
    body = reset_mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"https?://\S+/accounts/password/reset/key/\S+/", body).group(0)
    page.goto(link)
    new_password = "another-long-passphrase-77"
    page.get_by_label("New Password", exact=True).fill(new_password)
    page.get_by_label("New Password (again)").fill(new_password)
    screenshot(page, "screens-22-password-reset-new")
    page.get_by_role("button", name="Change Password").click()
    expect(page.get_by_text("Your password is now changed.")).to_be_visible()

    page.goto(url + "/accounts/login/")
    page.get_by_label("Email").fill("forgetful@example.com")
    page.get_by_label("Password").fill(PASSWORD)  # the old one no longer works
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".errorlist")).to_be_visible()
    screenshot(page, "screens-23-login-error")
    page.get_by_label("Password").fill(new_password)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Create your workspace")).to_be_visible()
