"""Token signing secrets from AAI_MCP_TOKEN_SECRETS and/or a secret file.

Messages name where a bad secret came from (variable entry, file line), never its value.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from aai_mcp.config.options import env_var

MIN_SECRET_CHARS = 32
ENV_SECRETS = str(env_var("token_secrets"))  # named once, by the Settings field
GENERATE_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class SecretsError(ValueError):
    """The configured secrets are unusable; the message says where, without the value."""


def load_signing_secrets(env_value: str | SecretStr | None, file: Path | None) -> list[bytes]:
    """Every configured secret, the variable's first, duplicates dropped.

    The first secret signs new tokens; all of them verify, so a new secret can be put first while
    tokens signed with the old one keep working until the old one is removed (rotation).
    """
    raw = env_value.get_secret_value() if isinstance(env_value, SecretStr) else env_value
    found = parse_secrets(raw, ENV_SECRETS) if raw else []
    if file is not None:
        found += read_secret_file(file)
    return list(dict.fromkeys(found))


def parse_secrets(raw: str, source: str) -> list[bytes]:
    """Comma-separated secrets; blank entries are skipped."""
    entries = [entry.strip() for entry in raw.split(",")]
    return [_checked(entry, f"{source} entry {number}") for number, entry in enumerate(entries, 1) if entry]


def read_secret_file(path: Path) -> list[bytes]:
    """One secret a line; blank lines and lines starting with `#` are skipped.

    Only whole-line comments: a `#` inside a secret is part of it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise SecretsError(f"cannot read the token secret file {path}: {detail}") from None
    secrets: list[bytes] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            secrets.append(_checked(stripped, f"{path} line {number}"))
    return secrets


def _checked(secret: str, where: str) -> bytes:
    if len(secret) < MIN_SECRET_CHARS:
        raise SecretsError(
            f"the token secret at {where} is shorter than {MIN_SECRET_CHARS} characters "
            f"(generate one with: {GENERATE_HINT})"
        )
    return secret.encode("utf-8")
