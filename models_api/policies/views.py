"""Screens of policies: Workspace settings → Policies and the model API's Policies tab.
Thin views: a form validates, a selector or a service does the work, the template
renders."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.views.generic import FormView, TemplateView

from models_api.mixins import ModelAPIPageMixin
from workspaces.forms import add_service_error
from workspaces.mixins import WorkspaceMixin
from workspaces.permissions import Action
from workspaces.services import Conflict

from . import enforcement, selectors, services
from .forms import ModelAPIPoliciesForm, PolicyForm
from .limits import TOKEN_KINDS
from .models import Policy


class ModelAPIPoliciesView(ModelAPIPageMixin, FormView):
    """The policies on this model API, with their current usage; admins attach and
    detach them here (a member must not be able to lift a cap)."""

    template_name = "policies/model_api_policies.html"
    tab = "policies"
    form_class = ModelAPIPoliciesForm
    required_write_action = Action.MANAGE_POLICIES

    @cached_property
    def workspace_policies(self):
        """The policies an admin may attach here (workspace defaults apply anyway)."""
        return [
            policy
            for policy in selectors.policies_for_workspace(workspace=self.workspace)
            if not policy.is_workspace_default
        ]

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["policy_choices"] = [
            (policy.name, f"{policy.name} — {policy.summary}") for policy in self.workspace_policies
        ]
        kwargs["initial"] = {
            "policies": selectors.policy_names_for_model_api(model_api=self.model_api)
        }
        return kwargs

    def form_valid(self, form):
        services.model_api_set_policies(
            model_api=self.model_api,
            policy_names=form.cleaned_data["policies"],
            actor=self.principal,
        )
        messages.success(self.request, "Policies of this model API saved.")
        return redirect(
            "model_api_policies", workspace=self.workspace.name, name=self.model_api.name
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        attached = selectors.policies_in_force(model_api=self.model_api)
        limits = selectors.limits_for_policies(attached)
        usage_by_policy: dict[str, list] = {}
        for limit in limits:
            if limit.kind in TOKEN_KINDS:
                used = enforcement.token_usage_in_window(self.model_api.pk, limit)
                usage_by_policy.setdefault(limit.policy, []).append((limit, used))
        context.update(
            attached=[(policy, usage_by_policy.get(policy.name, [])) for policy in attached],
            can_manage_policies=self.can(Action.MANAGE_POLICIES),
            has_workspace_policies=bool(self.workspace_policies),
        )
        return context


# --- Workspace settings → Policies ------------------------------------------------------------


class PolicyScreenMixin(WorkspaceMixin):
    required_action = Action.VIEW_POLICIES
    required_write_action = Action.MANAGE_POLICIES

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            section="settings",
            settings_tab="policies",
            can_manage_policies=self.can(Action.MANAGE_POLICIES),
        )
        return context


class PolicyListView(PolicyScreenMixin, TemplateView):
    template_name = "policies/policies.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["policies"] = [
            (
                policy,
                list(selectors.model_apis_for_policy(policy=policy).values_list("name", flat=True)),
            )
            for policy in selectors.policies_for_workspace(workspace=self.workspace)
        ]
        return context


class PolicyCreateView(PolicyScreenMixin, FormView):
    template_name = "policies/policy_form.html"
    form_class = PolicyForm
    required_action = Action.MANAGE_POLICIES

    def form_valid(self, form):
        try:
            policy = services.policy_create(
                workspace=self.workspace,
                name=form.cleaned_data["name"],
                actor=self.principal,
                **form.service_fields(),
            )
        except ValidationError as error:
            add_service_error(form, error)
            return self.form_invalid(form)
        except Conflict as error:
            form.add_error("name", str(error))
            return self.form_invalid(form)
        messages.success(self.request, f"Policy “{policy.name}” created.")
        return redirect("policy_list", workspace=self.workspace.name)


class PolicyMixin(PolicyScreenMixin):
    @cached_property
    def policy(self) -> Policy:
        return selectors.policy_get(workspace=self.workspace, name=self.kwargs["policy"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            policy=self.policy,
            model_api_names=selectors.model_api_names_for_policy(policy=self.policy),
        )
        return context


class PolicyEditView(PolicyMixin, FormView):
    """Members see the policy read-only; admins edit it."""

    template_name = "policies/policy_form.html"
    form_class = PolicyForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["editing"] = True
        policy = self.policy
        kwargs["initial"] = {
            field: getattr(policy, field) for field in services.POLICY_FIELDS if field != "labels"
        }
        return kwargs

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        if not self.can(Action.MANAGE_POLICIES):
            for field in form.fields.values():
                field.disabled = True
        return form

    def form_valid(self, form):
        try:
            services.policy_update(
                policy=self.policy, actor=self.principal, **form.service_fields()
            )
        except ValidationError as error:
            add_service_error(form, error)
            return self.form_invalid(form)
        messages.success(self.request, f"Policy “{self.policy.name}” saved.")
        return redirect("policy_list", workspace=self.workspace.name)


class PolicyDeleteView(PolicyMixin, TemplateView):
    http_method_names = ["post"]
    required_action = Action.MANAGE_POLICIES

    def post(self, request, *args, **kwargs):
        try:
            services.policy_delete(policy=self.policy, actor=self.principal)
        except Conflict as error:
            messages.error(request, str(error))
            return redirect("policy_edit", workspace=self.workspace.name, policy=self.policy.name)
        messages.success(request, f"Policy “{self.policy.name}” deleted.")
        return redirect("policy_list", workspace=self.workspace.name)
