"""DRF authentication by API key: `Authorization: Bearer <key>` or
`X-Blaxel-Authorization: Bearer <key>` (DESIGN.md §4)."""

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import access, services
from .keys import bearer_token, hash_key

User = get_user_model()


def raw_key_from_headers(headers) -> str | None:
    """The presented key, preferring `X-Blaxel-Authorization` (it is Blaxel's own header
    and survives proxies that rewrite `Authorization`)."""
    return bearer_token(headers.get("X-Blaxel-Authorization")) or bearer_token(
        headers.get("Authorization")
    )


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`request.user` is the User for a personal key, the Principal for a service
    account's key; `request.auth` is always the Principal."""

    def authenticate(self, request):
        raw_key = raw_key_from_headers(request.headers)
        if raw_key is None:
            return None
        grant = access.key_grant(key_hash=hash_key(raw_key))
        if grant is None:
            raise exceptions.AuthenticationFailed(
                "Invalid, revoked or expired API key or access token."
            )
        # After the read, not in it: the access layer only reads (the gateway caches it).
        if grant.api_key_id is not None:
            services.api_key_mark_used(api_key_id=grant.api_key_id, when=timezone.now())
        principal = grant.principal
        if principal.user_id is not None:
            return User.objects.get(pk=principal.user_id), principal
        return principal, principal

    async def aauthenticate(self, request):
        return await sync_to_async(self.authenticate)(request)

    def authenticate_header(self, request):
        return 'Bearer realm="blaxel"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes `ApiKeyAuthentication` in the OpenAPI schema (drf-spectacular finds it by
    `target_class` once this module is imported, which DRF's settings do)."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal or service-account API key, as "
            "`Authorization: Bearer <key>` or `X-Blaxel-Authorization: Bearer <key>`.",
        }
