"""`/v0` routes of policies (no trailing slashes, like Blaxel's control-plane API)."""

from django.urls import path

from . import views

urlpatterns = [
    path("policies", views.PolicyListCreateApi.as_view(), name="api-policies"),
    path("policies/<str:name>", views.PolicyDetailApi.as_view(), name="api-policy"),
]
