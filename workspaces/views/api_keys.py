"""Creating an API key on a page that lists keys: the service account's page and
Profile → Security share it."""

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers
from fernet_fields.hkdf import derive_fernet_key

from ..forms import ApiKeyForm, submit_form
from ..models import ApiKey

# The session holds a just-created key for the one page that shows it, encrypted.
NEW_KEY_SESSION = "workspaces:new_api_key"


def _fernet() -> Fernet:
    return Fernet(derive_fernet_key(f"new-api-key:{settings.FERNET_KEYS[0]}"))


def hold_new_key(session, api_key: ApiKey, raw_key: str) -> None:
    """Keep `raw_key` (encrypted) for the next page of this session only."""
    session[NEW_KEY_SESSION] = {
        "id": api_key.pk,
        "key": _fernet().encrypt(raw_key.encode()).decode(),
    }


def take_new_key(session) -> tuple[int, str] | None:
    """The key held by `hold_new_key`, once: reading it removes it."""
    held = session.pop(NEW_KEY_SESSION, None)
    if not held:
        return None
    try:
        return held["id"], _fernet().decrypt(held["key"].encode()).decode()
    except (InvalidToken, KeyError, TypeError, AttributeError):
        return None


class ApiKeyCreateMixin:
    """A page whose POST creates an API key and redirects to the page (post/redirect/get),
    which shows the key once.

    The raw key waits in the session, encrypted, for that one page view and is removed as
    it is shown: a refresh neither shows it again nor creates another key. The page must
    not be cached by the browser. Subclasses say whose key it is in `create_api_key`, and
    the page's URL in `get_success_url`; the template includes `workspaces/_new_key.html`.
    """

    def create_api_key(self, data: dict) -> tuple[ApiKey, str]:
        """Call the service that creates the key from the form's cleaned data."""
        raise NotImplementedError

    def owned_api_keys(self):
        """The keys this page lists (a held key is shown only if it is one of them)."""
        raise NotImplementedError

    def get_success_url(self) -> str:
        return self.request.path

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ApiKeyForm())
        held = take_new_key(self.request.session) if self.request.method == "GET" else None
        if held is not None:
            key_id, raw_key = held
            row = self.owned_api_keys().filter(pk=key_id).first()
            if row is not None:
                context.update(new_key=raw_key, new_key_row=row)
        return context

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        add_never_cache_headers(response)
        return response

    def post(self, request, *args, **kwargs):
        form = ApiKeyForm(request.POST)
        created = submit_form(form, lambda: self.create_api_key(form.cleaned_data))
        if created is None:
            return self.render_to_response(self.get_context_data(form=form))
        api_key, raw_key = created
        hold_new_key(request.session, api_key, raw_key)
        return redirect(self.get_success_url())
