"""Profile → Security: the person's own API keys (they reach every workspace the person
belongs to)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.views import View
from django.views.generic import TemplateView

from .. import selectors, services
from ..principals import Principal
from .api_keys import ApiKeyCreateMixin


class ProfileSecurityView(LoginRequiredMixin, ApiKeyCreateMixin, TemplateView):
    """Personal API keys; POST creates one, then the page shows it once."""

    template_name = "workspaces/profile_security.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["section"] = "profile"
        context["api_keys"] = selectors.api_keys_for_user(user=self.request.user)
        return context

    def create_api_key(self, data):
        return services.personal_api_key_create(user=self.request.user, **data)

    def owned_api_keys(self):
        return selectors.api_keys_for_user(user=self.request.user)


class PersonalKeyRevokeView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request, key_id):
        api_key = selectors.api_key_get_for_user(user=request.user, key_id=key_id)
        services.api_key_revoke(api_key=api_key, actor=Principal.for_user(request.user))
        messages.success(request, f"Key {api_key.prefix}… revoked.")
        return redirect("profile_security")
