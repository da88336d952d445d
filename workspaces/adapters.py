from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """After signing in, land on the home page, which routes to a workspace or asks the
    user to create one (and to accept pending invitations)."""

    def get_login_redirect_url(self, request):
        return super().get_login_redirect_url(request)
