from django.urls import path

from . import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
]

# Placeholders until the account screens land (replaced by the screens work).
urlpatterns += [
    path("workspaces/new/", views.HomeView.as_view(), name="workspace_create"),
    path("profile/security/", views.HomeView.as_view(), name="profile_security"),
]
