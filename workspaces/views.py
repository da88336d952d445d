from django.shortcuts import redirect
from django.views import View

from .selectors import workspaces_for_user


class HomeView(View):
    """Signed out: the login page. Signed in: the first workspace (placeholder until
    the screens land)."""

    def get(self, request):
        if not request.user.is_authenticated:
            return redirect("account_login")
        workspace = workspaces_for_user(request.user).first()
        if workspace is None:
            return redirect("account_login")
        return redirect(f"/{workspace.name}/settings/")
