"""Model API screens in real Chromium against a live ASGI server: the New model API flow
driven from the keyboard (catalog search as one types, arrows + Enter), the status going
to DEPLOYED, the copied Python example run with the OpenAI SDK, and the Playground
streaming an answer through the real gateway with the session as credential."""

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from blaxel_console.testing.browser import screenshot
from blaxel_console.testing.people import PASSWORD
from blaxel_console.testing.servers import subprocess_env
from blaxel_console.testing.waiting import wait_until
from integrations.fake_openai import ANSWER
from models_api.models import ModelAPI
from models_api.usage.models import UsageRecord

pytestmark = [
    pytest.mark.browser,
    pytest.mark.live,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("settled_background_work"),
]


def log_in(page, server_url: str, email: str) -> None:
    page.goto(f"{server_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))


def test_a_member_creates_a_model_api_from_the_keyboard_and_runs_the_example(
    asgi_server, page, member_user, openai_connection, personal_key
):
    log_in(page, asgi_server, member_user.email)
    page.goto(f"{asgi_server}/acme/models/")
    page.get_by_role("link", name="New model API").click()
    expect(page.get_by_text("Using your workspace's OpenAI integration:")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("OpenAI-compatible"))).to_be_visible()

    search = page.get_by_role("combobox", name="Model")
    search.click()
    # Typed without the hyphen: still found (before, "gpt4o" found nothing).
    search.press_sequentially("gpt4o", delay=80)
    listbox = page.get_by_role("listbox")
    expect(listbox).to_be_visible()
    options = listbox.get_by_role("option")
    expect(options).to_have_count(2)  # only what matches what was typed
    assert options.evaluate_all("items => items.map(item => item.dataset.modelId)") == [
        "gpt-4o",
        "gpt-4o-mini",
    ]
    expect(search).to_have_attribute("aria-expanded", "true")
    screenshot(page, "models-01-new-search")

    search.press("ArrowDown")
    expect(search).to_have_attribute("aria-activedescendant", "catalog-option-0")
    search.press("ArrowDown")
    expect(search).to_have_attribute("aria-activedescendant", "catalog-option-1")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.nth(0)).to_have_attribute("aria-selected", "false")
    search.press("Enter")  # picks the model; does not submit the form
    expect(search).to_have_value("gpt-4o-mini")
    expect(listbox).to_be_hidden()
    expect(page).to_have_url(f"{asgi_server}/acme/models/new/")
    expect(page.locator("#summary-model")).to_have_text("gpt-4o-mini")
    expect(page.locator("#summary-context")).to_have_text("128,000 tokens")
    expect(page.locator("#summary-price")).to_contain_text("$0.15 in")

    page.get_by_label("Model API name").fill("support-bot")
    expect(page.locator("#summary-endpoint")).to_have_text(
        f"{asgi_server}/run/acme/models/support-bot"
    )
    screenshot(page, "models-02-new-summary")
    page.get_by_role("button", name="Create model API").click()

    expect(page).to_have_url(f"{asgi_server}/acme/models/support-bot/")
    expect(page.locator("#model-api-status [data-status]")).to_have_attribute(
        "data-status", "DEPLOYED", timeout=30000
    )
    expect(page.locator("#header-status")).to_have_text("Deployed")
    screenshot(page, "models-03-overview-deployed")
    model_api = ModelAPI.objects.get(name="support-bot")
    assert model_api.created_by == member_user
    assert model_api.runtime_model == "gpt-4o-mini"

    # Copy the Python example and run it, as a user would, with their own key.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=asgi_server)
    page.get_by_role("button", name="Copy").nth(2).click()  # endpoint, curl, then Python
    example = page.evaluate("navigator.clipboard.readText()")
    assert example.startswith("import os") and "$BLAXEL_API_KEY" not in example
    assert f'base_url="{asgi_server}/run/acme/models/support-bot/v1"' in example
    result = subprocess.run(
        [sys.executable, "-c", example],
        env=subprocess_env(BLAXEL_API_KEY=personal_key(member_user)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ANSWER

    page.goto(f"{asgi_server}/acme/models/")
    row = page.get_by_role("row", name=re.compile("support-bot"))
    expect(row).to_contain_text("gpt-4o-mini")
    expect(row).to_contain_text("Deployed")
    screenshot(page, "models-04-list")


def test_the_playground_streams_the_answer_as_it_arrives(
    asgi_server, page, member_user, make_model_api, fake_openai
):
    model_api = make_model_api(name="chatty")
    wait_until(lambda: ModelAPI.objects.get(pk=model_api.pk).status == "DEPLOYED", timeout=30)
    fake_openai.configure(chunk_delay=0.15)
    log_in(page, asgi_server, member_user.email)
    page.goto(f"{asgi_server}/acme/models/chatty/playground/")
    page.get_by_label("Message").fill("Say hello to the team")
    page.get_by_role("button", name="Send").click()

    # Part of the answer is on screen while the rest is still on its way.
    page.wait_for_function(
        """() => {
            const answer = document.querySelector('.chat-assistant .chat-text');
            return answer && answer.classList.contains('is-streaming')
                && answer.textContent.length > 0 && answer.textContent.length < 40;
        }""",
        timeout=15000,
    )
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    screenshot(page, "models-05-playground-streaming")
    answer = page.locator(".chat-assistant .chat-text")
    expect(answer).to_have_text(ANSWER, timeout=20000)
    expect(answer).not_to_have_class(re.compile("is-streaming"))
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.locator(".chat-user .chat-text")).to_have_text("Say hello to the team")
    screenshot(page, "models-06-playground-answered")

    (request,) = fake_openai.requests("/v1/chat/completions")
    assert request["body"]["stream"] is True
    assert request["body"]["messages"] == [{"role": "user", "content": "Say hello to the team"}]
    assert request["headers"]["authorization"] == f"Bearer {fake_openai.key}"
    assert "cookie" not in request["headers"] and "x-csrftoken" not in request["headers"]
    record = wait_until(
        lambda: UsageRecord.objects.filter(model_api_name="chatty").first(), timeout=15
    )
    assert record.caller == member_user.email and record.status_code == 200


def test_the_playground_shows_the_gateways_refusal_of_a_disabled_model_api(
    asgi_server, page, member_user, make_model_api
):
    make_model_api(name="paused", enabled=False)
    log_in(page, asgi_server, member_user.email)
    page.goto(f"{asgi_server}/acme/models/paused/playground/")
    expect(page.get_by_text("This model API is disabled")).to_be_visible()
    page.get_by_label("Message").fill("Hello?")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".chat-error")).to_contain_text("disabled")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    screenshot(page, "models-07-playground-disabled")


def test_edit_picks_another_model_from_the_catalog_then_delete_confirms(
    asgi_server, page, admin_user, make_model_api
):
    make_model_api(name="editable", enabled=False)
    log_in(page, asgi_server, admin_user.email)
    page.goto(f"{asgi_server}/acme/models/editable/")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Display name").fill("Editable bot")
    page.get_by_label("Enabled").check()
    search = page.get_by_role("combobox", name="Model")
    search.fill("")
    search.press_sequentially("4.1-n", delay=80)
    # The catalog's options (the page's connection pickers have options of their own).
    options = page.get_by_role("listbox", name="Models in the catalog").get_by_role("option")
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("data-model-id", "gpt-4.1-nano")
    search.press("ArrowDown")
    expect(search).to_have_attribute("aria-activedescendant", "catalog-option-0")
    search.press("Enter")
    expect(search).to_have_value("gpt-4.1-nano")
    screenshot(page, "models-08-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#model-api-status [data-status]")).to_have_attribute(
        "data-status", "DEPLOYED", timeout=30000
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("Editable bot")
    model_api = ModelAPI.objects.get(name="editable")
    assert (model_api.runtime_model, model_api.enabled) == ("gpt-4.1-nano", True)

    page.get_by_role("link", name="Edit").click()
    page.get_by_role("link", name="Delete…").click()
    page.get_by_label("Type editable to confirm").fill("wrong")
    page.get_by_role("button", name="Delete model API").click()
    expect(page.get_by_text("Type “editable” to confirm.")).to_be_visible()
    screenshot(page, "models-09-delete-confirm")
    page.get_by_label("Type editable to confirm").fill("editable")
    page.get_by_role("button", name="Delete model API").click()
    expect(page).to_have_url(f"{asgi_server}/acme/models/")
    expect(page.get_by_text("Model API “editable” deleted.")).to_be_visible()
    assert not ModelAPI.objects.filter(name="editable").exists()
