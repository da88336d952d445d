"""OAuth 2.0 client credentials for service accounts, on django-oauth-toolkit (DOT) and
oauthlib: `POST /v0/oauth/token` (`api/views/oauth.py`) issues and refreshes tokens.

What is DOT's and oauthlib's: client authentication (HTTP Basic, the secret checked
against its stored hash), the grants, token generation and storage (SHA-256 checksums
only, RFC 9700), refresh-token rotation and reuse protection, OAuth's error bodies.
What is ours, and why:

* A refresh token with the client-credentials grant. oauthlib follows RFC 6749 §4.4.3
  ("SHOULD NOT"), but Blaxel's flow — and its SDK, which reads `refresh_token` from the
  answer — expects one.
* Each service account's OAuth client is owned by a passwordless, inactive user row:
  DOT's refresh tokens require a user. That row never signs in, belongs to no
  workspace, and the access layer maps a token to its service account, never to it.
* A JSON body as well as a form body (Blaxel's SDK posts JSON).
* Only these two grants are served.
"""

import json

from django.core.exceptions import BadRequest
from django.http.multipartparser import MultiPartParserError
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2 import BearerToken
from oauthlib.oauth2.rfc6749.endpoints.token import TokenEndpoint
from oauthlib.oauth2.rfc6749.grant_types import ClientCredentialsGrant, RefreshTokenGrant

from .models import ServiceAccount

GRANT_TYPES = ("client_credentials", "refresh_token")


class _AlwaysWithRefreshToken:
    """A token handler that issues a refresh token even where the grant says not to."""

    def __init__(self, token_handler):
        self.token_handler = token_handler

    def create_token(self, request, refresh_token=False, **kwargs):
        return self.token_handler.create_token(request, refresh_token=True, **kwargs)


class RefreshableClientCredentialsGrant(ClientCredentialsGrant):
    def create_token_response(self, request, token_handler):
        return super().create_token_response(request, _AlwaysWithRefreshToken(token_handler))


class ServiceAccountTokenServer(TokenEndpoint):
    """oauthlib's token endpoint with the client-credentials and refresh grants only."""

    def __init__(
        self,
        request_validator,
        token_expires_in=None,
        token_generator=None,
        refresh_token_generator=None,
        **unused_server_kwargs,
    ):
        bearer = BearerToken(
            request_validator, token_generator, token_expires_in, refresh_token_generator
        )
        super().__init__(
            default_grant_type="client_credentials",
            grant_types={
                "client_credentials": RefreshableClientCredentialsGrant(request_validator),
                "refresh_token": RefreshTokenGrant(request_validator),
            },
            default_token_type=bearer,
        )


class ServiceAccountValidator(OAuth2Validator):
    def authenticate_client(self, request, *args, **kwargs):
        # Only a service account's client gets tokens (never an orphaned client row).
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        return ServiceAccount.objects.filter(oauth_application_id=request.client.pk).exists()

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous):
        # DOT clears the user for client credentials; its refresh tokens need one.
        request.user = request.client.user
        return super()._create_refresh_token(request, refresh_token_code, access_token, previous)


class JSONOrFormOAuthLibCore(OAuthLibCore):
    """DOT's Django ↔ oauthlib bridge, reading a JSON body as well as a form body."""

    def extract_body(self, request):
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body or b"{}")
            except (ValueError, UnicodeDecodeError):
                return []
            if not isinstance(body, dict):
                return []
            return [(key, str(value)) for key, value in body.items() if value is not None]
        try:
            return super().extract_body(request)
        except (MultiPartParserError, BadRequest):
            return []  # an unreadable form is no grant: OAuth's 400, not Django's traceback


def token_backend() -> JSONOrFormOAuthLibCore:
    server = ServiceAccountTokenServer(ServiceAccountValidator(), **oauth2_settings.server_kwargs)
    return JSONOrFormOAuthLibCore(server)
