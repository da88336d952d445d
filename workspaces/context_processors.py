from .selectors import workspaces_for_user


def workspace_context(request):
    """The header's workspace switcher: the user's workspaces and the current one."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current = match.kwargs.get("workspace") if match else None
    return {
        "user_workspaces": workspaces_for_user(request.user).only("name", "display_name"),
        "current_workspace_name": current,
    }
