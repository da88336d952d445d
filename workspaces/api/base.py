"""The base of every `/v0` view: resolves the principal and the workspace once (through
`workspaces.access`), checks the role against the permission layer, and renders lists
the way Blaxel's clients expect.
"""

import base64
import binascii
from collections.abc import Callable, Iterable

from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces import access
from workspaces.models import Workspace
from workspaces.permissions import Action, role_allows
from workspaces.principals import Principal

# From this `Blaxel-Version` on, lists answer `{"data": [...], "meta": {...}}`.
ENVELOPE_VERSION = "2026-04-28"
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MISSING_WORKSPACE_MESSAGE = (
    "Name the workspace with the X-Blaxel-Workspace header or the ?workspace= parameter."
)


def principal_from_request(request) -> Principal | None:
    if isinstance(request.auth, Principal):
        return request.auth
    if request.user and request.user.is_authenticated:
        return Principal.for_user(request.user)
    return None


def workspace_name_from_request(request) -> str | None:
    return request.headers.get("X-Blaxel-Workspace") or request.query_params.get("workspace")


class PrincipalAPIView(APIView):
    """An authenticated `/v0` view that is not scoped to one workspace (e.g. the list of
    the caller's workspaces). Sets `self.principal`."""

    principal: Principal

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, IsAuthenticated
        # A method this view lacks is a 405, before any workspace or role check (which
        # would otherwise answer 403 for it).
        if request.method.lower() not in self.http_method_names or not hasattr(
            self, request.method.lower()
        ):
            raise exceptions.MethodNotAllowed(request.method)
        self.principal = principal_from_request(request)


class WorkspaceAPIView(PrincipalAPIView):
    """Subclasses set `required_actions` (HTTP method → Action); reads default to
    `Action.VIEW_WORKSPACE`, writes must be listed explicitly (or are refused).

    The workspace comes from `X-Blaxel-Workspace` / `?workspace=`, or from the URL for
    views whose resource is the workspace itself (`workspace_url_kwarg`); a service
    account's key may name none (it reaches one workspace only). Either way, a workspace
    that does not exist and one the caller cannot reach are the same 403 (DESIGN.md §3).
    """

    required_actions: dict[str, Action] = {}
    # Set to a URL keyword when the workspace is the resource named by the URL.
    workspace_url_kwarg: str | None = None
    # Set to a URL keyword when the URL names a model API (checked against the
    # credential's scope).
    model_api_url_kwarg: str | None = None

    workspace: Workspace
    role: str

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        try:
            reach = self._workspace_access(request, kwargs)
        except access.WorkspaceUnreachable as unreachable:
            raise exceptions.PermissionDenied(str(unreachable)) from unreachable
        self.workspace, self.role = reach.workspace, reach.role
        self.check_action(self.required_action(request))
        self.check_scope(request, kwargs)

    def _workspace_access(self, request, url_kwargs) -> access.WorkspaceAccess:
        if self.workspace_url_kwarg:
            name = url_kwargs[self.workspace_url_kwarg]
        else:
            name = workspace_name_from_request(request)
        if name:
            return access.workspace_access(self.principal, name)
        if self.principal.is_service_account:
            return access.service_account_workspace_access(self.principal)
        raise exceptions.ValidationError({"workspace": MISSING_WORKSPACE_MESSAGE})

    def required_action(self, request) -> Action | None:
        if request.method in self.required_actions:
            return self.required_actions[request.method]
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return Action.VIEW_WORKSPACE
        return None

    def check_scope(self, request, url_kwargs) -> None:
        """A scoped key or OAuth token: inference only refuses every `/v0` write; a list
        of model APIs refuses the others' `/v0/models/{name}…`."""
        scope = self.principal.scope
        if scope.inference_only and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(
                f"This credential's scope ({scope.describe()}) does not allow changes through /v0."
            )
        name = url_kwargs.get(self.model_api_url_kwarg) if self.model_api_url_kwarg else None
        if name and not scope.allows_model_api(name):
            raise exceptions.PermissionDenied(
                f"This credential's scope ({scope.describe()}) does not include the model "
                f"API “{name}”."
            )

    def check_action(self, action: Action | None) -> None:
        if action is None or not role_allows(self.role, action):
            raise exceptions.PermissionDenied(
                f"Your role ({self.role}) in this workspace does not allow this."
            )


# --- OpenAPI parameters shared by the views ---------------------------------------------

WORKSPACE_PARAMETERS = [
    OpenApiParameter(
        "X-Blaxel-Workspace",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="Workspace name (or pass `?workspace=`). Optional for a service "
        "account's key, which reaches its own workspace only.",
    ),
    OpenApiParameter(
        "workspace",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        description="Workspace name, when the X-Blaxel-Workspace header is not sent.",
    ),
]

ARRAY_LIST_PARAMETERS = [
    OpenApiParameter(
        "limit",
        OpenApiTypes.INT,
        OpenApiParameter.QUERY,
        description=f"At most this many items, 1–{MAX_LIMIT}.",
    ),
    OpenApiParameter(
        "cursor",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        description="Skip to this position (an opaque cursor, as an envelope's nextCursor).",
    ),
    OpenApiParameter(
        "q", OpenApiTypes.STR, OpenApiParameter.QUERY, description="Case-insensitive filter."
    ),
]

LIST_PARAMETERS = [
    OpenApiParameter(
        "Blaxel-Version",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description=f"`{ENVELOPE_VERSION}` or later: the list answers "
        '`{"data": [...], "meta": {"hasMore", "nextCursor", "total"}}` and honours '
        "`cursor`, `limit` and `q`; otherwise a plain JSON array.",
    ),
    OpenApiParameter(
        "limit",
        OpenApiTypes.INT,
        OpenApiParameter.QUERY,
        description=f"Page size, 1–{MAX_LIMIT} (default {DEFAULT_LIMIT}); envelope only.",
    ),
    OpenApiParameter(
        "cursor",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        description="`meta.nextCursor` of the previous page; envelope only.",
    ),
    OpenApiParameter(
        "q",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        description="Case-insensitive substring filter; envelope only.",
    ),
]


# --- lists --------------------------------------------------------------------------------

ARRAY_NARROWING = frozenset({"q", "limit", "cursor"})


def wants_envelope(request) -> bool:
    return request.headers.get("Blaxel-Version", "") >= ENVELOPE_VERSION


def _decode_cursor(cursor: str) -> int:
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise exceptions.ValidationError({"cursor": "Invalid cursor."}) from error
    if offset < 0:
        raise exceptions.ValidationError({"cursor": "Invalid cursor."})
    return offset


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _limit(request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError as error:
        raise exceptions.ValidationError({"limit": "Must be an integer."}) from error
    if not 1 <= limit <= MAX_LIMIT:
        raise exceptions.ValidationError({"limit": f"Must be between 1 and {MAX_LIMIT}."})
    return limit


def _narrowed(request, items, search_fields, *, whole: bool = False):
    """`items` filtered by `q` and cut to the page of `cursor` and `limit`: (the page,
    whether more follow, the offset, the limit, how many match `q` in all). `whole`:
    without `limit`, everything from the cursor on."""
    limit = _limit(request)
    if whole and "limit" not in request.query_params:
        limit = 10**9
    cursor = request.query_params.get("cursor")
    offset = _decode_cursor(cursor) if cursor else 0
    query = request.query_params.get("q", "").strip()
    if isinstance(items, QuerySet):
        if query:
            condition = Q()
            for field in search_fields:
                condition |= Q(**{f"{field}__icontains": query})
            items = items.filter(condition)
        if not items.ordered:
            items = items.order_by("pk")  # stable pages need a total order
        total = items.count()
        page = list(items[offset : offset + limit + 1])
    else:
        items = list(items)
        if query:
            needle = query.lower()
            items = [
                item
                for item in items
                if any(needle in str(_get(item, field)).lower() for field in search_fields)
            ]
        total = len(items)
        page = items[offset : offset + limit + 1]
    return page[:limit], len(page) > limit, offset, limit, total


def list_response(
    request,
    items: QuerySet | Iterable,
    serialize: Callable[[object], dict],
    search_fields: Iterable[str] = ("name",),
) -> Response:
    """A plain JSON array, or — from `Blaxel-Version: 2026-04-28` on — the paginated
    envelope `{"data", "meta": {"hasMore", "nextCursor", "total"}}` with `cursor`,
    `limit` (≤ 200) and `q` (case-insensitive substring over `search_fields`).
    `total` counts the items matching `q` across all pages."""
    if not wants_envelope(request):
        return Response([serialize(item) for item in items])
    page, has_more, offset, limit, total = _narrowed(request, items, search_fields)
    return Response(
        {
            "data": [serialize(item) for item in page],
            "meta": {
                "hasMore": has_more,
                "nextCursor": _encode_cursor(offset + limit) if has_more else "",
                "total": total,
            },
        }
    )


def array_response(
    request,
    items: QuerySet | Iterable,
    serialize: Callable[[object], dict],
    search_fields: Iterable[str] = ("name",),
) -> Response:
    """Always a plain JSON array, whatever the `Blaxel-Version`: the lists Blaxel's
    official client parses only as arrays (members, service accounts). `q`, `limit` and
    `cursor`, when given, narrow it as they narrow an envelope's page."""
    if not ARRAY_NARROWING.intersection(request.query_params):
        return Response([serialize(item) for item in items])
    page, *_ = _narrowed(request, items, search_fields, whole=True)
    return Response([serialize(item) for item in page])


def _get(item, dotted: str):
    for part in dotted.split("__"):
        item = item.get(part) if isinstance(item, dict) else getattr(item, part, "")
    return item
