from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """The console's allauth adapter. After signing in (or up), allauth's default sends
    people to LOGIN_REDIRECT_URL, the home page, which routes them to their last
    workspace or asks them to create one (listing their pending invitations); a `?next=`
    (as on an invitation link) takes precedence. Kept as the place for account policy."""
