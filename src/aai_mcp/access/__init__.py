"""Scoped, expiring, stateless access tokens: scopes, signing, secrets, revocation and the CLI."""

from aai_mcp.access.revocation import RevocationList, RevocationUnavailable, append_revocation
from aai_mcp.access.scopes import (
    METHOD_CLASSES,
    MethodClass,
    Scopes,
    UnknownMethodClass,
    method_classes,
)
from aai_mcp.access.secrets import SecretsError, load_signing_secrets
from aai_mcp.access.tokens import (
    HEADER_NAME,
    Claims,
    Minted,
    TokenError,
    check_signature,
    inspect,
    mint,
    verify,
)

__all__ = [
    "HEADER_NAME",
    "METHOD_CLASSES",
    "Claims",
    "MethodClass",
    "Minted",
    "RevocationList",
    "RevocationUnavailable",
    "Scopes",
    "SecretsError",
    "TokenError",
    "UnknownMethodClass",
    "append_revocation",
    "check_signature",
    "inspect",
    "load_signing_secrets",
    "method_classes",
    "mint",
    "verify",
]
