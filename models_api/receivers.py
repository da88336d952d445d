"""What model APIs do when something they are built on changes (connected in `apps`)."""

from django.dispatch import receiver

from integrations.signals import connection_status_changed


@receiver(connection_status_changed)
def follow_connection_status(*, connection_id: int, **kwargs) -> None:
    """A connection's check ended: the model APIs it serves follow its status."""
    from .deployment import model_apis_follow_connection

    model_apis_follow_connection(connection_id=connection_id)
