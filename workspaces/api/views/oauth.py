"""`POST /v0/oauth/token`: OAuth 2.0 client credentials (and refresh) for service
accounts, as Blaxel's SDK uses it (`BL_CLIENT_CREDENTIALS`). The protocol is
django-oauth-toolkit's and oauthlib's (`workspaces.oauth`); errors are OAuth's own
bodies (`{"error": "invalid_client", ...}`), not the `/v0` error shape, as OAuth
clients expect."""

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from workspaces.oauth import GRANT_TYPES, token_backend

TOKEN_ANSWER = inline_serializer(
    name="OAuthToken",
    fields={
        "access_token": serializers.CharField(),
        "refresh_token": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
        "token_type": serializers.CharField(default="Bearer"),
        "scope": serializers.CharField(),
    },
)
TOKEN_REQUEST = inline_serializer(
    name="OAuthTokenRequest",
    fields={
        "grant_type": serializers.ChoiceField(choices=GRANT_TYPES),
        "refresh_token": serializers.CharField(required=False),
    },
)
# RFC 6749 §5.2: `error_description` is optional (oauthlib leaves it out of some errors,
# e.g. `unsupported_grant_type`).
OAUTH_ERROR = inline_serializer(
    name="OAuthError",
    fields={
        "error": serializers.CharField(),
        "error_description": serializers.CharField(required=False),
    },
)


class OAuthTokenApi(APIView):
    # The client authenticates in the body's protocol (HTTP Basic `client_id:secret`),
    # not with an API key: none of the `/v0` authentication or permission classes apply.
    authentication_classes = ()
    permission_classes = ()

    @extend_schema(
        operation_id="oauthToken",
        tags=["oauth"],
        summary="Get an OAuth access token for a service account",
        description="HTTP Basic `client_id:client_secret` (a service account's), with "
        '`{"grant_type": "client_credentials"}` or `{"grant_type": "refresh_token", '
        '"refresh_token": "..."}` as JSON or a form. The access token is accepted '
        "wherever an API key is (`/v0` and the gateway), until `expires_in` seconds have "
        "passed or the service account is deleted, changes role or scope, or its secret "
        "is rotated. A refresh token is single-use: each refresh returns a new pair. "
        "Errors are OAuth's: 401 `invalid_client` (wrong credentials), 400 "
        "`unsupported_grant_type`, `invalid_grant`, `invalid_request`.",
        auth=[],
        request={
            "application/json": TOKEN_REQUEST,
            "application/x-www-form-urlencoded": TOKEN_REQUEST,
        },
        responses={200: TOKEN_ANSWER, 400: OAUTH_ERROR, 401: OAUTH_ERROR},
        examples=[
            OpenApiExample(
                "client credentials", value={"grant_type": "client_credentials"}, request_only=True
            )
        ],
    )
    def post(self, request):
        # DOT reads the Django request (its body and Basic header) itself.
        _uri, headers, body, status = token_backend().create_token_response(request._request)
        response = HttpResponse(body, status=status, content_type="application/json")
        for name, value in headers.items():
            response[name] = value
        return response
