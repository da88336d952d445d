"""`/v0` endpoints for workspaces, the team, service accounts and their API keys, one
module per resource.

Thin views: validate the body with a serializer, call one selector or service, render.
Writes answer 200 with the resource; a delete answers with the resource as it was.
"""
