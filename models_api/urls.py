"""Console screens under /<workspace>/models/ (the root URL map adds the prefix)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.ModelAPIListView.as_view(), name="model_api_list"),
    path("new/", views.ModelAPICreateView.as_view(), name="model_api_create"),
    path("new/catalog/", views.CatalogSearchView.as_view(), name="model_api_catalog_search"),
    path("<slug:name>/", views.ModelAPIOverviewView.as_view(), name="model_api_overview"),
    path("<slug:name>/status/", views.ModelAPIStatusView.as_view(), name="model_api_status"),
    path(
        "<slug:name>/check-again/",
        views.ModelAPICheckAgainView.as_view(),
        name="model_api_check_again",
    ),
    path(
        "<slug:name>/playground/",
        views.ModelAPIPlaygroundView.as_view(),
        name="model_api_playground",
    ),
    path("<slug:name>/edit/", views.ModelAPIEditView.as_view(), name="model_api_edit"),
    path("<slug:name>/delete/", views.ModelAPIDeleteView.as_view(), name="model_api_delete"),
]
