"""Who reaches the model API screens: admins and members see every one, outsiders get
404 and anonymous visitors the login page, neither can write, and another
workspace's model API is a 404 that nothing changes."""

import pytest

from models_api.models import ModelAPI
from models_api.services import model_api_create
from workspaces.principals import Principal

pytestmark = pytest.mark.django_db

PAGES = [
    "/acme/models/",
    "/acme/models/new/",
    "/acme/models/new/catalog/?connection=openai-main&model=gpt",
    "/acme/models/my-gpt/",
    "/acme/models/my-gpt/status/",
    "/acme/models/my-gpt/logs/",
    "/acme/models/my-gpt/metrics/",
    "/acme/models/my-gpt/policies/",
    "/acme/models/my-gpt/playground/",
    "/acme/models/my-gpt/edit/",
    "/acme/models/my-gpt/delete/",
]

WRITES = [
    (
        "/acme/models/new/",
        {"provider": "openai", "connection": "openai-main", "model": "gpt-4o", "name": "x"},
    ),
    ("/acme/models/my-gpt/edit/", {"display_name": "x", "model": "gpt-4o"}),
    ("/acme/models/my-gpt/delete/", {"confirm_name": "my-gpt"}),
    ("/acme/models/my-gpt/check-again/", {}),
]


@pytest.fixture
def globex_model_api(other_workspace, other_connection, outsider):
    return model_api_create(
        workspace=other_workspace,
        name="globex-gpt",
        connections=[other_connection],
        model="gpt-4o",
        actor=Principal.for_user(outsider),
    )


# --- role matrix, tenancy ----------------------------------------------------------------------


@pytest.mark.parametrize("client_name", ["admin_client", "member_client"])
@pytest.mark.parametrize("url", PAGES)
def test_admins_and_members_see_every_screen(request, client_name, url, make_model_api):
    make_model_api()
    response = request.getfixturevalue(client_name).get(url)
    assert response.status_code == 200, (url, response.status_code)


@pytest.mark.parametrize("url", PAGES)
def test_an_outsider_gets_404_on_every_screen(outsider_client, url, make_model_api):
    make_model_api()
    assert outsider_client.get(url).status_code == 404


@pytest.mark.parametrize("url, data", WRITES)
def test_an_outsider_cannot_write(outsider_client, url, data, make_model_api):
    model_api = make_model_api()
    assert outsider_client.post(url, data).status_code == 404
    assert list(ModelAPI.objects.values_list("name", flat=True)) == ["my-gpt"]
    assert ModelAPI.objects.get().display_name == model_api.display_name


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_log_in(client, url, make_model_api):
    make_model_api()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url, data", WRITES)
def test_anonymous_cannot_write(client, url, data, make_model_api):
    make_model_api()
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert ModelAPI.objects.get().name == "my-gpt"


@pytest.mark.parametrize(
    "suffix", ["", "status/", "logs/", "metrics/", "policies/", "playground/", "edit/", "delete/"]
)
def test_another_workspaces_model_api_is_a_404(admin_client, globex_model_api, suffix):
    assert admin_client.get(f"/acme/models/globex-gpt/{suffix}").status_code == 404
    assert admin_client.get(f"/globex/models/globex-gpt/{suffix}").status_code == 404


def test_another_workspaces_model_api_cannot_be_changed(admin_client, globex_model_api):
    assert (
        admin_client.post(
            "/acme/models/globex-gpt/delete/", {"confirm_name": "globex-gpt"}
        ).status_code
        == 404
    )
    assert admin_client.post("/acme/models/globex-gpt/edit/", {"model": "x"}).status_code == 404
    globex_model_api.refresh_from_db()
    assert globex_model_api.runtime_model == "gpt-4o"
