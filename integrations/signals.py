"""Signals of integrations, for the apps built on them (model APIs follow their
connections) without integrations importing those apps."""

from django.dispatch import Signal

# Sent after a check recorded a connection's status: `connection_id`, `status`.
connection_status_changed = Signal()
