"""The console's HTML screens for accounts and workspaces, one module per screen.

Views stay thin: a form validates input, one service writes (`forms.submit_form`),
`messages` reports the result. Permissions come from `WorkspaceMixin` (`required_action`
for reads, `required_write_action` for writes), which asks the permission layer.
"""
