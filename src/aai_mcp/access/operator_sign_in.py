"""How the operator proves who they are on the OAuth consent page. Pluggable: a SignIn names the form
fields it needs and checks them; today's is a password kept as an scrypt hash in the settings, and an
upstream OIDC identity provider can be another SignIn later.

Hash format: `scrypt$<n>$<r>$<p>$<salt base64url>$<key base64url>`; make one with
`python -m aai_mcp.access.operator_sign_in` (reads the password from stdin, prints the hash)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sys
from collections.abc import Mapping
from typing import Protocol

_N, _R, _P, _KEY_BYTES = 2**14, 8, 1, 32
OPERATOR = "operator"


class SignIn(Protocol):
    fields: tuple[str, ...]
    """Form fields the consent page asks for (password inputs)."""

    def subject(self, form: Mapping[str, str]) -> str | None:
        """Who signed in with these form values, or None when they do not prove anyone."""


def hash_password(password: str, *, n: int = _N) -> str:
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=_R, p=_P, dklen=_KEY_BYTES)
    return f"scrypt${n}${_R}${_P}${_b64(salt)}${_b64(key)}"


class PasswordSignIn:
    """The one operator, signing in with the password whose hash is configured."""

    fields: tuple[str, ...] = ("password",)

    def __init__(self, password_hash: str) -> None:
        parts = password_hash.split("$")
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError("the operator password hash is not scrypt$n$r$p$salt$key")
        self._n, self._r, self._p = (int(part) for part in parts[1:4])
        self._salt, self._key = _unb64(parts[4]), _unb64(parts[5])

    def subject(self, form: Mapping[str, str]) -> str | None:
        password = form.get("password", "")
        if not password:
            return None
        key = hashlib.scrypt(
            password.encode(), salt=self._salt, n=self._n, r=self._r, p=self._p, dklen=len(self._key)
        )
        return OPERATOR if hmac.compare_digest(key, self._key) else None


class NoSignIn:
    """No credential configured: nobody can approve (the page says so)."""

    fields: tuple[str, ...] = ()

    def subject(self, form: Mapping[str, str]) -> str | None:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


if __name__ == "__main__":
    print(hash_password(sys.stdin.readline().rstrip("\n")))
