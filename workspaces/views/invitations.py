"""Invitations from the invited person's side: the emailed link, and accepting from the
"Create your workspace" page."""

import time

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import TemplateView

from .. import selectors, services
from ..forms import service_error_message
from ..models import Invitation, Membership
from ..services import Conflict

# The invitation a signed-out visitor opened, and when (an account made after that, from
# the link, may count the link as proof of its address).
LINK_SESSION_KEY = "invitation_link_opened"


class InvitationAcceptView(TemplateView):
    """`/invitations/<token>/`: the emailed link. Shows who invited whom to what, and
    asks a signed-in user with the invited email to accept (a POST: a link preview or
    prefetch must not join anyone to a workspace)."""

    template_name = "workspaces/invitation.html"
    STATUS_FOR_STATE = {
        "unknown": 404,
        "expired": 410,
        "revoked": 410,
        "wrong_email": 403,
        "unverified": 403,
    }

    def dispatch(self, request, *args, token, **kwargs):
        self.invitation = selectors.invitation_get_by_token(token=token)
        return super().dispatch(request, *args, token=token, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        state = self._state()
        context.update(invitation=self.invitation, state=state)
        if state == "signed_out":
            context.update(self._sign_in_links())
            # An account made from here may count this link as proof of its address.
            self.request.session[LINK_SESSION_KEY] = {
                "invitation": self.invitation.pk,
                "at": time.time(),
            }
        if state == "wrong_email":
            context["signed_in_as"] = self.request.user.email
        return context

    def _sign_in_links(self) -> dict:
        next_query = urlencode({"next": self.request.path})
        signup_query = urlencode({"next": self.request.path, "email": self.invitation.email})
        return {
            "login_url": f"{reverse('account_login')}?{next_query}",
            "signup_url": f"{reverse('account_signup')}?{signup_query}",
        }

    def _state(self) -> str:
        invitation, user = self.invitation, self.request.user
        if invitation is None:
            return "unknown"
        status = invitation.status
        if status == Invitation.Status.ACCEPTED:
            return "accepted"
        if status != Invitation.Status.PENDING:
            return status  # "expired" or "revoked"
        if not user.is_authenticated:
            return "signed_out"
        if user.email.lower() != invitation.email.lower():
            return "wrong_email"
        if not selectors.email_is_trusted(user=user) and not self._link_proves_address():
            return "unverified"
        return "ready"

    def _link_proves_address(self) -> bool:
        """The signed-in account was made after its person opened this emailed link."""
        opened = self.request.session.get(LINK_SESSION_KEY) or {}
        joined = self.request.user.date_joined.timestamp()
        return opened.get("invitation") == self.invitation.pk and joined >= opened.get("at", 1e20)

    def _user_is_member(self) -> bool:
        user = self.request.user
        return user.is_authenticated and bool(
            selectors.membership_for_user(workspace=self.invitation.workspace, user=user)
        )

    def get(self, request, token):
        state = self._state()
        if state == "accepted" and self._user_is_member():
            return redirect("workspace_home", workspace=self.invitation.workspace.name)
        return self.render_to_response(
            self.get_context_data(), status=self.STATUS_FOR_STATE.get(state, 200)
        )

    def post(self, request, token):
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        if self._state() != "ready":
            return self.get(request, token)
        try:
            membership = services.invitation_accept(
                invitation=self.invitation,
                user=request.user,
                link_proves_address=self._link_proves_address(),
            )
        except (ValidationError, Conflict):
            # Raced with a revoke, resend or another accept: show the current state.
            self.invitation.refresh_from_db()
            return self.get(request, token)
        return _joined(request, membership)


class PendingInvitationAcceptView(LoginRequiredMixin, View):
    """Accept from the "Create your workspace" page: only invitations for the user's
    verified email address are reachable here (see `pending_invitations_for_user`)."""

    http_method_names = ["post"]

    def post(self, request, invitation_id):
        pending = selectors.pending_invitations_for_user(user=request.user)
        invitation = pending.filter(pk=invitation_id).first()
        if invitation is None:
            messages.error(request, "This invitation is no longer pending.")
            return redirect("workspace_create")
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except (ValidationError, Conflict) as error:
            messages.error(request, service_error_message(error))
            return redirect("workspace_create")
        return _joined(request, membership)


def _joined(request, membership: Membership):
    """Welcome the person who just joined, on the workspace's main page."""
    workspace = membership.workspace
    messages.success(
        request,
        f"You joined the workspace “{workspace.display_name}” as {membership.get_role_display()}.",
    )
    return redirect("workspace_home", workspace=workspace.name)
