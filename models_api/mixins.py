"""Mixins of the model API screens, shared by the model API's own tabs and by the tabs
the usage and policies apps add to its page (Logs, Metrics, Policies)."""

from functools import cached_property

from integrations.providers import PROVIDERS
from workspaces.mixins import WorkspaceMixin
from workspaces.permissions import Action

from . import selectors


class ModelAPIScreenMixin(WorkspaceMixin):
    """Reading needs VIEW_MODEL_APIS, any write MANAGE_MODEL_APIS."""

    required_action = Action.VIEW_MODEL_APIS
    required_write_action = Action.MANAGE_MODEL_APIS

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            section="models",
            can_manage=self.can(Action.MANAGE_MODEL_APIS),
            can_call=self.can(Action.CALL_MODEL_APIS),
        )
        return context


class ModelAPIPageMixin(ModelAPIScreenMixin):
    """A page of one model API (`<name>` in the URL; another workspace's is a 404)."""

    tab = ""

    @cached_property
    def model_api(self):
        return selectors.model_api_get(workspace=self.workspace, name=self.kwargs["name"])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        model_api = self.model_api
        connections = selectors.model_api_connections(model_api=model_api)
        context.update(
            model_api=model_api,
            connections=connections,
            provider=PROVIDERS.get(model_api.runtime_type),
            endpoint_url=selectors.endpoint_url(model_api),
            tab=self.tab,
        )
        return context
