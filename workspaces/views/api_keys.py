"""Creating an API key on a page that lists keys: the service account's page and
Profile → Security share it."""

from django.utils.cache import add_never_cache_headers

from ..forms import ApiKeyForm, submit_form
from ..models import ApiKey


class ApiKeyCreateMixin:
    """A page whose POST creates an API key and shows it once.

    The raw key is in that one response only (never in the session or a later page), and
    the response must not be cached by the browser. Subclasses say whose key it is in
    `create_api_key`; the template includes `workspaces/_new_key.html`.
    """

    def create_api_key(self, data: dict) -> tuple[ApiKey, str]:
        """Call the service that creates the key from the form's cleaned data."""
        raise NotImplementedError

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ApiKeyForm())
        return context

    def post(self, request, *args, **kwargs):
        form = ApiKeyForm(request.POST)
        created = submit_form(form, lambda: self.create_api_key(form.cleaned_data))
        if created is None:
            return self.render_to_response(self.get_context_data(form=form))
        api_key, raw_key = created
        context = self.get_context_data(form=ApiKeyForm(), new_key=raw_key, new_key_row=api_key)
        response = self.render_to_response(context)
        add_never_cache_headers(response)
        return response
