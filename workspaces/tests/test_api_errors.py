"""The `/v0` conventions shared by every endpoint: JSON errors (never HTML, never
`{"detail": ...}`), workspace resolution, the list envelope, and the OpenAPI schema/docs."""

import re

import pytest
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from blaxel_console.testing.api import assert_error
from blaxel_console.testing.people import make_service_account
from workspaces import selectors
from workspaces.models import ServiceAccount, Workspace

pytestmark = pytest.mark.django_db


# --- errors -------------------------------------------------------------------------------


def test_malformed_json_is_a_json_400(admin_api):
    response = admin_api.post(
        "/v0/workspaces", data='{"name": "x",', content_type="application/json"
    )
    body = assert_error(response, 400)
    assert "Malformed" in body["message"]
    assert Workspace.objects.count() == 1


def test_json_that_is_not_an_object_is_a_400(admin_api):
    response = admin_api.post(
        "/v0/service_accounts", data="[1, 2]", content_type="application/json"
    )
    assert_error(response, 400, "non_field_errors")
    assert not ServiceAccount.objects.exists()


def test_form_body_is_refused_as_unsupported_media_type(admin_api):
    response = admin_api.post("/v0/service_accounts", {"name": "bot"})  # multipart
    assert_error(response, 415)
    assert not ServiceAccount.objects.exists()


def test_unknown_api_url_is_a_json_404(admin_api):
    for url in ("/v0/nothing-here", "/v0/users/a/b/c", "/v0/"):
        body = assert_error(admin_api.get(url), 404)
        assert body["error"] == "not_found"


def test_unknown_console_url_is_still_an_html_page(client):
    response = client.get("/v0-not-the-api/nothing/here/")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_wrong_method_is_a_json_405(admin_api):
    response = admin_api.patch("/v0/users", {}, format="json")
    assert_error(response, 405)
    assert "POST" in response["Allow"]


def test_unexpected_failure_is_a_json_500_without_details(admin_api, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(selectors, "team_for_workspace", explode)
    admin_api.raise_request_exception = False
    response = admin_api.get("/v0/users")
    body = assert_error(response, 500)
    assert "internal detail" not in response.content.decode()
    assert body["error"] == "internal_server_error"


def test_missing_workspace_is_a_400_naming_the_header(admin_user, api_client_for, workspace):
    client = api_client_for(admin_user, workspace_name=None)
    body = assert_error(client.get("/v0/users"), 400, "workspace")
    assert "X-Blaxel-Workspace" in body["fields"]["workspace"]


def test_unknown_workspace_looks_like_no_access(admin_user, api_client_for, workspace):
    # An unknown workspace and one the caller cannot reach answer the same: 403.
    assert_error(api_client_for(admin_user, "no-such-workspace").get("/v0/users"), 403)


def test_workspace_from_the_query_string(admin_user, api_client_for, workspace):
    client = api_client_for(admin_user, workspace_name=None)
    response = client.get("/v0/users?workspace=acme")
    assert response.status_code == 200
    assert admin_user.email in {user["email"] for user in response.json()}


# --- lists: the envelope, and the lists that are always arrays ------------------------------

NEW = {"HTTP_BLAXEL_VERSION": "2026-04-28"}


@pytest.fixture
def many_accounts(workspace, admin_user):
    return [
        make_service_account(workspace, name=f"bot-{index}", by_user=admin_user)
        for index in range(5)
    ]


@pytest.fixture
def many_model_apis(workspace, bare_model_api):
    return [bare_model_api(workspace, name=f"api-{index}") for index in range(5)]


def test_plain_array_without_the_version_header(member_api, many_model_apis):
    response = member_api.get("/v0/models")
    assert isinstance(response.json(), list)
    assert len(response.json()) == 5


def test_plain_array_for_an_older_version(member_api, many_model_apis):
    response = member_api.get("/v0/models", HTTP_BLAXEL_VERSION="2026-04-27")
    assert isinstance(response.json(), list)


@pytest.mark.parametrize("version", ["2026-04-28", "2026-09-22"])
def test_envelope_from_the_version_on(member_api, many_model_apis, version):
    body = member_api.get("/v0/models", HTTP_BLAXEL_VERSION=version).json()
    assert set(body) == {"data", "meta"}
    assert body["meta"] == {"hasMore": False, "nextCursor": "", "total": 5}
    assert [item["metadata"]["name"] for item in body["data"]] == [
        f"api-{index}" for index in range(5)
    ]


@pytest.mark.parametrize("url", ["/v0/service_accounts", "/v0/users"])
@pytest.mark.parametrize("version", [None, "2026-04-28", "2026-09-22"])
def test_members_and_service_accounts_are_arrays_whatever_the_version(
    admin_api, many_accounts, url, version
):
    """Blaxel's official client parses these lists only as arrays, and its default
    client sends `Blaxel-Version: 2026-09-22`."""
    headers = {"HTTP_BLAXEL_VERSION": version} if version else {}
    body = admin_api.get(url, **headers).json()
    assert isinstance(body, list) and len(body) >= (5 if "service" in url else 2)


def test_cursor_paging_of_the_envelope_reaches_the_end(admin_api, many_model_apis):
    expected = [item["metadata"]["name"] for item in admin_api.get("/v0/models").json()]
    seen, cursor, pages = [], "", 0
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        body = admin_api.get("/v0/models" + query, **NEW).json()
        pages += 1
        assert len(body["data"]) <= 2
        assert body["meta"]["total"] == len(expected)
        seen.extend(item["metadata"]["name"] for item in body["data"])
        if not body["meta"]["hasMore"]:
            assert body["meta"]["nextCursor"] == ""
            break
        cursor = body["meta"]["nextCursor"]
        assert cursor
    assert seen == expected
    assert pages == (len(expected) + 1) // 2


@pytest.mark.parametrize("url", ["/v0/service_accounts", "/v0/users"])
def test_limit_and_cursor_narrow_the_arrays(admin_api, many_accounts, url):
    for index in range(4):
        admin_api.post("/v0/users", {"email": f"p{index}@example.com"}, format="json")
    everything = admin_api.get(url).json()
    assert len(everything) >= 5
    first = admin_api.get(f"{url}?limit=2", **NEW).json()
    assert first == everything[:2]
    cursor = "Mg=="  # the cursor of position 2, as an envelope's nextCursor reads
    assert admin_api.get(f"{url}?limit=2&cursor={cursor}", **NEW).json() == everything[2:4]


def test_q_filters_case_insensitively(member_api, many_accounts, many_model_apis):
    body = member_api.get("/v0/models?q=API-3", **NEW).json()
    assert [item["metadata"]["name"] for item in body["data"]] == ["api-3"]
    assert body["meta"]["total"] == 1
    accounts = member_api.get("/v0/service_accounts?q=BOT-3", **NEW).json()
    assert [item["name"] for item in accounts] == ["bot-3"]


def test_q_on_users_filters_by_email(admin_api, admin_user, member_user):
    body = admin_api.get("/v0/users?q=max@", **NEW).json()
    assert [item["email"] for item in body] == [member_user.email]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=201", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("cursor=!!not-base64!!", "cursor"),
        ("cursor=LTE=", "cursor"),  # base64 of "-1"
    ],
)
@pytest.mark.parametrize("url", ["/v0/service_accounts", "/v0/models"])
def test_bad_paging_parameters_are_400(member_api, many_accounts, query, field, url):
    body = assert_error(member_api.get(f"{url}?{query}", **NEW), 400, field)
    if query == "limit=201":
        assert "200" in body["fields"]["limit"]


def test_limit_200_is_allowed(member_api, many_accounts, many_model_apis):
    assert len(member_api.get("/v0/service_accounts?limit=200", **NEW).json()) == 5
    assert len(member_api.get("/v0/models?limit=200", **NEW).json()["data"]) == 5


# --- schema and docs -----------------------------------------------------------------------

OPERATIONS = {
    ("/v0/workspaces", "get"): "listWorkspaces",
    ("/v0/workspaces", "post"): "createWorkspace",
    ("/v0/workspaces/{workspace_name}", "get"): "getWorkspace",
    ("/v0/workspaces/{workspace_name}", "put"): "updateWorkspace",
    ("/v0/workspaces/{workspace_name}", "delete"): "deleteWorkspace",
    ("/v0/workspaces/{workspace_name}/leave", "delete"): "leaveWorkspace",
    ("/v0/users", "get"): "listWorkspaceUsers",
    ("/v0/users", "post"): "inviteWorkspaceUser",
    ("/v0/users/{sub_or_email}", "put"): "updateWorkspaceUserRole",
    ("/v0/users/{sub_or_email}", "delete"): "removeWorkspaceUser",
    ("/v0/service_accounts", "get"): "getWorkspaceServiceAccounts",
    ("/v0/service_accounts", "post"): "createWorkspaceServiceAccount",
    ("/v0/service_accounts/{client_id}", "put"): "updateWorkspaceServiceAccount",
    ("/v0/service_accounts/{client_id}", "delete"): "deleteWorkspaceServiceAccount",
    ("/v0/service_accounts/{client_id}/api_keys", "get"): "listApiKeysForServiceAccount",
    ("/v0/service_accounts/{client_id}/api_keys", "post"): "createApiKeyForServiceAccount",
    (
        "/v0/service_accounts/{client_id}/api_keys/{api_key_id}",
        "delete",
    ): "deleteApiKeyForServiceAccount",
}


def valid_schema(patterns=None) -> dict:
    """The OpenAPI schema of `patterns` (default: the whole project), checked to be valid
    and generated without a warning or an error."""
    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=patterns)
    with GENERATOR_STATS.silence():
        schema = generator.get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    assert problems == []
    validate_schema(schema)
    return schema


def test_schema_of_these_endpoints_is_valid_and_free_of_warnings():
    schema = valid_schema([path("v0/", include("workspaces.api.urls"))])
    for (url, method), operation_id in OPERATIONS.items():
        assert schema["paths"][url][method]["operationId"] == operation_id
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    users_list = schema["components"]["schemas"]["WorkspaceUserList"]["oneOf"]
    assert users_list[0]["type"] == "array"


def test_the_whole_projects_schema_is_valid_and_free_of_warnings():
    schema = valid_schema()
    operation_ids = [
        operation["operationId"] for item in schema["paths"].values() for operation in item.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert schema["paths"]["/v0/policies/{name}"]["put"]["operationId"] == "updatePolicy"
    assert schema["paths"]["/v0/models/{name}/logs"]["get"]["operationId"] == "listModelLogs"
    # The gateway speaks OpenAI's API, documented by OpenAI: not part of /v0's schema.
    assert not [url for url in schema["paths"] if url.startswith("/run/")]


def test_schema_is_served_as_openapi_3(client):
    response = client.get("/v0/schema?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/v0/service_accounts/{client_id}/api_keys" in schema["paths"]


def test_docs_are_served_without_a_cdn(client):
    response = client.get("/v0/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger" in html.lower()
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)
    assert external == []
    assets = re.findall(r"""["'](/static/[^"']+)["']""", html)
    assert any("swagger-ui-bundle" in asset for asset in assets)
    for asset in assets:
        asset_response = APIClient().get(asset)
        assert asset_response.status_code == 200, asset
