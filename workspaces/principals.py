"""Who is acting: a person or a service account, however they authenticated."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CredentialScope:
    """What a credential (API key or OAuth token) is restricted to: some model APIs by
    name (none = every one) and/or inference only (no `/v0` writes). Plain data."""

    model_apis: tuple[str, ...] = ()
    inference_only: bool = False

    @property
    def is_restricted(self) -> bool:
        return bool(self.model_apis) or self.inference_only

    def allows_model_api(self, name: str) -> bool:
        return not self.model_apis or name in self.model_apis

    def describe(self) -> str:
        """The scope in words, for messages and the key's row."""
        parts = []
        if self.model_apis:
            parts.append("model APIs " + ", ".join(self.model_apis))
        if self.inference_only:
            parts.append("inference only")
        return "; ".join(parts) or "full access"

    def as_dict(self) -> dict:
        return {"modelApis": list(self.model_apis), "inferenceOnly": self.inference_only}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. Plain data (ids and labels), so it can be cached.

    `user_id` is set for a person (session or personal API key); `service_account_id`
    and `service_account_workspace_id` for a service account, which reaches only its
    own workspace with its own role.
    """

    label: str
    user_id: int | None = None
    service_account_id: int | None = None
    service_account_workspace_id: int | None = None
    service_account_role: str | None = None
    api_key_id: int | None = None
    api_key_prefix: str = ""
    scope: CredentialScope = CredentialScope()

    # Lets DRF treat a Principal as `request.user` for service-account keys.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_service_account(self) -> bool:
        return self.service_account_id is not None

    @classmethod
    def for_user(cls, user, api_key=None) -> "Principal":
        return cls(
            label=user.email,
            user_id=user.pk,
            api_key_id=api_key.pk if api_key else None,
            api_key_prefix=api_key.prefix if api_key else "",
            scope=api_key.scope if api_key else CredentialScope(),
        )

    @classmethod
    def for_service_account(cls, service_account, api_key=None) -> "Principal":
        """With `api_key`, the key's scope; without, the account's own (its OAuth
        tokens)."""
        return cls(
            label=f"service account {service_account.name}",
            service_account_id=service_account.pk,
            service_account_workspace_id=service_account.workspace_id,
            service_account_role=service_account.role,
            api_key_id=api_key.pk if api_key else None,
            api_key_prefix=api_key.prefix if api_key else "",
            scope=api_key.scope if api_key else service_account.scope,
        )
