from django.urls import path

from . import views

urlpatterns = [
    path("models", views.ModelListCreateApi.as_view(), name="api-models"),
    path("models/<str:name>", views.ModelDetailApi.as_view(), name="api-model"),
]
