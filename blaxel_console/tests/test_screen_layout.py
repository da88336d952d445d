"""Every console screen in real Chromium at a phone's width (390 px) and a desktop's
(1440 px): the page never scrolls sideways, and at desktop width no table is wider than
its box. One live server, one browser, one set of sessions for the whole module; the
screenshots of the main screens are taken here too (`SCREENS_DIR` saves them elsewhere,
e.g. `docs/screens`)."""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from blaxel_console.testing.browser import ARTIFACTS
from blaxel_console.testing.usage import usage
from blaxel_console.testing.waiting import wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("settled_background_work"),
]

PHONE, DESKTOP = 390, 1440
# The longest display name a workspace may have: 100 characters.
LONG_DISPLAY_NAME = ("Research and Development Platform Team for Model Evaluation " * 2)[:100]

# (name, path, signed in as, in the README's screenshots)
SCREENS = [
    ("overview", "/acme/models/support-bot/", "admin", True),
    ("logs", "/acme/models/support-bot/logs/", "admin", True),
    ("metrics", "/acme/models/support-bot/metrics/", "admin", True),
    ("model-api-policies", "/acme/models/support-bot/policies/", "admin", False),
    ("playground", "/acme/models/support-bot/playground/", "admin", True),
    ("model-api-edit", "/acme/models/support-bot/edit/", "admin", False),
    ("model-api-delete", "/acme/models/support-bot/delete/", "admin", False),
    ("model-apis", "/acme/models/", "admin", True),
    ("new-model-api", "/acme/models/new/", "admin", True),
    ("usage", "/acme/usage/", "admin", True),
    ("settings", "/acme/settings/", "admin", False),
    ("team", "/acme/settings/team/", "admin", True),
    ("team-member", "/acme/settings/team/", "member", False),
    ("service-accounts", "/acme/settings/service-accounts/", "admin", False),
    ("service-account", "/acme/settings/service-accounts/{client_id}/", "admin", True),
    ("integrations", "/acme/settings/integrations/", "admin", False),
    ("connections", "/acme/settings/integrations/openai/", "admin", True),
    ("connection-create", "/acme/settings/integrations/openai/new/", "admin", False),
    ("connection", "/acme/settings/integrations/openai/connections/openai-main/", "admin", True),
    (
        "connection-delete",
        "/acme/settings/integrations/openai/connections/openai-main/delete/",
        "admin",
        False,
    ),
    ("policies", "/acme/settings/policies/", "admin", True),
    ("policy-create", "/acme/settings/policies/new/", "admin", True),
    ("policy", "/acme/settings/policies/daily-cap/", "admin", False),
    ("audit-log", "/acme/settings/audit-log/", "admin", True),
    ("profile-security", "/profile/security/", "admin", True),
    ("workspace-create", "/workspaces/new/", "admin", False),
    ("change-password", "/accounts/password/change/", "admin", False),
    ("email-addresses", "/accounts/email/", "admin", False),
    ("long-workspace-name", "/rnd/models/", "admin", False),
    ("not-allowed", "/acme/settings/audit-log/", "member", False),
    ("not-found", "/acme/models/no-such-model-api/", "admin", False),
    ("login", "/accounts/login/", None, False),
    ("sign-up", "/accounts/signup/", None, False),
]

# What a screen measures: the page's width against the window's; each table's width
# against its box (the element that clips or scrolls it) and the table cells lying
# outside the window (reachable only by scrolling the table); and whether the header
# keeps one row with no wrapped link or button.
MEASURE = """() => {
  const visible = (element) => element.getClientRects().length > 0;
  const header = [...document.querySelectorAll(".topbar > *")].filter(visible);
  const boxes = header.map((element) => element.getBoundingClientRect());
  const tops = boxes.map((box) => box.top), bottoms = boxes.map((box) => box.bottom);
  return {
    page: document.documentElement.scrollWidth,
    window: window.innerWidth,
    tables: [...document.querySelectorAll("table")].map((table) => ({
      caption: (table.querySelector("th") || table).textContent.trim().slice(0, 40),
      width: table.scrollWidth,
      box: table.parentElement.clientWidth,
    })),
    cellsOffScreen: [...document.querySelectorAll("td")].filter(visible).filter((cell) => {
      const box = cell.getBoundingClientRect();
      return box.left < 0 || box.right > window.innerWidth + 0.5;
    }).map((cell) => cell.textContent.trim().slice(0, 30)),
    // One row: every item starts above the bottom of every other.
    headerOneRow: Math.max(...tops) < Math.min(...bottoms),
    headerWrapped: [...document.querySelectorAll(".brand, .mainnav a, .topbar summary")]
      .filter(visible).filter((element) => element.getBoundingClientRect().height > 40)
      .map((element) => element.textContent.trim().slice(0, 30)),
  };
}"""


@pytest.fixture
def screen_data(
    workspace, admin_user, member_user, admin_principal, make_gateway_model_api, make_user
):
    """Everything the screens list, with long values where people type them: a deployed
    model API with calls, policies, a service account with a key, a personal key, a
    pending invitation, audit entries of every kind of change, and a second workspace
    whose display name is 100 characters long."""
    from integrations.models import IntegrationConnection
    from integrations.services import integration_connection_update
    from models_api.policies import services as policy_services
    from models_api.services import model_api_update
    from models_api.usage import storage
    from workspaces import services
    from workspaces.models import Membership

    model_api = make_gateway_model_api(workspace, name="support-bot")
    connection = IntegrationConnection.objects.get(workspace=workspace, name="openai-main")
    now = datetime.now(UTC)
    storage.store_usage_records(
        usage(
            model_api,
            when=now - timedelta(minutes=index * 3),
            status=200 if index % 6 else 429,
            latency=200 + index * 10,
            ttfb=40,
            tokens=(120, 480),
            caller="service account nightly-evaluation-runner" if index % 2 else admin_user.email,
            path="v1/chat/completions" if index % 3 else "v1/embeddings",
        )
        for index in range(12)
    )
    cap = policy_services.policy_create(
        workspace=workspace,
        name="daily-cap",
        actor=admin_principal,
        type="maxToken",
        granularity="day",
        max_total_tokens=100000,
    )
    policy_services.policy_update(policy=cap, actor=admin_principal, max_total_tokens=250000)
    policy_services.policy_create(
        workspace=workspace,
        name="burst-guard",
        actor=admin_principal,
        type="rateLimit",
        requests_per_minute=600,
        per_caller=True,
    )
    policy_services.model_api_set_policies(
        model_api=model_api, policy_names=["daily-cap", "burst-guard"], actor=admin_principal
    )
    model_api_update(model_api=model_api, actor=admin_principal, display_name="Support bot")
    integration_connection_update(
        connection=connection,
        actor=admin_principal,
        display_name="Main OpenAI account",
        config={**connection.config, "organization": "org-evaluation-and-research-team"},
    )
    account = services.service_account_create(
        workspace=workspace,
        name="nightly-evaluation-runner",
        description="Runs the evaluation suite every night against every model API",
        actor=admin_principal,
    )
    services.service_account_api_key_create(
        service_account=account, name="evaluation-cluster-key", expires_in="30d",
        actor=admin_principal,
    )  # fmt: skip
    services.personal_api_key_create(user=admin_user, name="laptop-development-key")
    services.invitation_create(
        workspace=workspace,
        email="a.very.long.address.for.a.new.colleague@research.example.com",
        role="member",
        actor=admin_principal,
    )
    membership = Membership.objects.get(workspace=workspace, user=member_user)
    services.membership_change_role(membership=membership, role="admin", actor=admin_principal)
    services.membership_change_role(membership=membership, role="member", actor=admin_principal)
    long_named = services.workspace_create(
        name="rnd", display_name=LONG_DISPLAY_NAME, creator=admin_user
    )
    Membership.objects.create(workspace=long_named, user=member_user, role="member")
    wait_until(
        lambda: IntegrationConnection.objects.get(pk=connection.pk).status == "valid",
        timeout=30,
    )
    return {"client_id": account.client_id}


@pytest.fixture
def sessions(asgi_server, admin_user, member_user):
    """Session cookies of the admin and the member for the live server (signed in once)."""
    from blaxel_console.testing.people import logged_in_client

    cookies = {}
    for role, user in (("admin", admin_user), ("member", member_user)):
        session = logged_in_client(user).cookies["sessionid"].value
        cookies[role] = [{"name": "sessionid", "value": session, "url": asgi_server}]
    return cookies


def screens_dir() -> Path:
    directory = Path(os.environ.get("SCREENS_DIR") or ARTIFACTS / "screens")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def visit_every_screen(browser, server, sessions, screen_data, width):
    """Measures of every screen at `width` (and the screenshots of the main ones)."""
    measures = {}
    contexts = {}
    try:
        for name, path, role, in_readme in SCREENS:
            if role not in contexts:
                contexts[role] = browser.new_context(viewport={"width": width, "height": 900})
                if role:
                    contexts[role].add_cookies(sessions[role])
            page = contexts[role].new_page()
            page.set_default_timeout(15000)
            response = page.goto(server + path.format(**screen_data))
            expected = {"not-allowed": 403, "not-found": 404}.get(name, 200)
            assert response.status == expected, f"{name}: {response.status}"
            page.wait_for_load_state("load")
            measures[name] = page.evaluate(MEASURE)
            if in_readme:
                page.screenshot(path=str(screens_dir() / f"{name}-{width}.png"), full_page=True)
            page.close()
    finally:
        for context in contexts.values():
            context.close()
    return measures


def test_no_screen_scrolls_sideways_and_tables_fit(asgi_server, browser, sessions, screen_data):
    phone = visit_every_screen(browser, asgi_server, sessions, screen_data, PHONE)
    desktop = visit_every_screen(browser, asgi_server, sessions, screen_data, DESKTOP)

    assert {m["window"] for m in phone.values()} == {PHONE}
    assert {m["window"] for m in desktop.values()} == {DESKTOP}
    too_wide = {
        f"{name} at {width} px": measure["page"]
        for width, measures in ((PHONE, phone), (DESKTOP, desktop))
        for name, measure in measures.items()
        if measure["page"] > width
    }
    assert too_wide == {}, "these screens scroll sideways"
    # On a phone every table shows all its columns (each row a card), not just the first.
    off_screen = {name: m["cellsOffScreen"] for name, m in phone.items() if m["cellsOffScreen"]}
    assert off_screen == {}, "table cells reachable only by scrolling the table at 390 px"
    # The header keeps one row at 1440 px, even with a 100-character workspace name.
    header = {
        name: m["headerWrapped"]
        for name, m in desktop.items()
        if not m["headerOneRow"] or m["headerWrapped"]
    }
    assert header == {}, "the header wraps at 1440 px"
    assert not any(m["headerWrapped"] for m in phone.values())
    overflowing = {
        name: [table for table in measure["tables"] if table["width"] > table["box"]]
        for name, measure in desktop.items()
    }
    assert {name: tables for name, tables in overflowing.items() if tables} == {}, (
        "tables wider than their box at 1440 px"
    )


def test_menus_fit_a_phone_and_forms_keep_their_buttons_reachable(
    asgi_server, browser, sessions, workspace, admin_user, make_gateway_model_api
):
    from workspaces import services

    make_gateway_model_api(workspace, name="support-bot")
    services.workspace_create(name="rnd", display_name=LONG_DISPLAY_NAME, creator=admin_user)
    phone = browser.new_context(viewport={"width": PHONE, "height": 800})
    desktop = browser.new_context(viewport={"width": DESKTOP, "height": 900})
    try:
        phone.add_cookies(sessions["admin"])
        desktop.add_cookies(sessions["admin"])
        page = phone.new_page()
        page.goto(f"{asgi_server}/rnd/models/")
        # The switcher cuts the long name in the header and lists it in full, on screen.
        summary = page.get_by_label("Switch workspace")
        assert summary.get_attribute("title") == f"{LONG_DISPLAY_NAME} (rnd)"
        summary.click()
        panel = page.locator(".workspace-menu .menu-panel")
        expect(panel.get_by_text(LONG_DISPLAY_NAME)).to_be_visible()
        box = panel.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE
        page.keyboard.press("Escape")
        page.locator("details.usermenu > summary").click()
        box = page.locator(".usermenu .menu-panel").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE

        # The open model list does not cover Save on the edit page.
        page = desktop.new_page()
        page.goto(f"{asgi_server}/acme/models/support-bot/edit/")
        page.get_by_role("combobox", name="Model").fill("gpt")
        expect(page.get_by_role("listbox")).to_be_visible()
        page.get_by_role("button", name="Save").click(trial=True)  # fails when covered

        # The policy form shows the settings of the chosen type only.
        page.goto(f"{asgi_server}/acme/settings/policies/new/")
        rate_limit = page.get_by_role("group", name="Rate limit settings")
        token_cap = page.get_by_role("group", name="Token cap settings")
        expect(token_cap).to_be_visible()
        expect(rate_limit).to_be_hidden()
        page.get_by_label("Rate limit", exact=True).check()
        expect(rate_limit).to_be_visible()
        expect(token_cap).to_be_hidden()
        expect(page.get_by_label("Requests per minute")).to_be_visible()
        page.get_by_label("Name", exact=True).fill("burst")
        page.get_by_role("button", name="Create policy").click()
        expect(page.get_by_text("A rate limit needs requests per minute.")).to_be_visible()
        expect(rate_limit).to_be_visible()  # the re-rendered form keeps the chosen type's
        page.get_by_label("Requests per minute").fill("90")
        page.get_by_role("button", name="Create policy").click()
        expect(page.get_by_role("link", name="burst")).to_be_visible()
    finally:
        phone.close()
        desktop.close()
