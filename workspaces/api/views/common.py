"""What the workspaces app's `/v0` views share: validating a body, and the pieces of
their OpenAPI documentation."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, inline_serializer

from ..representation import errors
from ..serializers import ListMetaSerializer

__all__ = ["ARRAY_LIST_DESCRIPTION", "errors", "list_of", "path_parameter", "validated"]

ARRAY_LIST_DESCRIPTION = (
    "Always a plain JSON array, whatever the `Blaxel-Version` (Blaxel's official client "
    "parses this list only so); `q`, `limit` and `cursor` narrow it."
)


def validated(serializer_class, request, **context) -> dict:
    """The request body checked by `serializer_class`; a 400 with field errors if not."""
    serializer = serializer_class(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def list_of(item_serializer) -> PolymorphicProxySerializer:
    """A list's answer: a plain array, or the envelope (depends on `Blaxel-Version`)."""
    name = item_serializer.__name__.removesuffix("Serializer")
    page = inline_serializer(
        name=f"{name}Page",
        fields={"data": item_serializer(many=True), "meta": ListMetaSerializer()},
    )
    return PolymorphicProxySerializer(
        component_name=f"{name}List",
        serializers=[item_serializer(many=True), page],
        resource_type_field_name=None,
        many=False,
    )


def path_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.PATH, description=description)
