"""`aai-mcp token mint | inspect | revoke | list | prune`: create, read, revoke and list scoped access
tokens (every minted token is recorded in the store: `token list`).

Exit codes: 0 done, 1 the token or a file was bad, 2 a flag or the configuration was wrong.
Signing secrets come only from the environment or a file, never a flag (shell history). The options
are the models of `aai_mcp.config.command_options`, read like every command's (flag > env > file).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from aai_mcp.access.revocation import append_revocation
from aai_mcp.access.scopes import (
    METHOD_CLASSES,
    RETIRED_CLASSES,
    Scopes,
    UnknownMethodClass,
    method_classes,
)
from aai_mcp.access.secrets import ENV_SECRETS, GENERATE_HINT, SecretsError, load_signing_secrets
from aai_mcp.access.tokens import (
    ACCOUNT_PATTERN,
    HEADER_NAME,
    JTI_PATTERN,
    NAME_PATTERN,
    PREFIX,
    Claims,
    Minted,
    TokenError,
    check_signature,
    format_time,
    inspect,
    mint,
)
from aai_mcp.catalog import Catalog
from aai_mcp.cli.token_records import list_records, prune_records, record_minted
from aai_mcp.cli.token_revocation import (
    StoreSetupError,
    StoreUnreachable,
    revoke_in_store,
    revoked_status,
    store_configured,
)
from aai_mcp.config.command_options import (
    InspectOptions,
    MintOptions,
    RevokeOptions,
    TokenKeys,
    TokenListOptions,
)
from aai_mcp.config.layers import Loaded
from aai_mcp.config.options import env_var

MAX_LIFETIME_SECONDS = 10 * 365 * 86400
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"([1-9][0-9]{0,8})([mhdw])")
_BASE_URL = re.compile(r"https?://[^/\s?#]+(/[^\s?#]*)?")
ENV_SECRET_FILE = env_var("token_secret_file", TokenKeys)
ENV_REVOCATION_FILE = env_var("token_revocation_file", TokenKeys)


class UsageError(ValueError):
    """A flag or the configuration is wrong (exit code 2)."""


@dataclass
class Context:
    keys: TokenKeys
    now: float
    loaded: Catalog | None = None

    def catalog(self) -> Catalog:
        if self.loaded is None:
            # Imported here: the composition root loads every tool module, which only mint and
            # inspect need, and gateway may itself import this package once tokens are wired in.
            from aai_mcp.gateway import load_default_catalog

            self.loaded = load_default_catalog()
        return self.loaded


def run_token_command(loaded: Loaded, *, now: float | None = None, catalog: Catalog | None = None) -> int:
    """Run `token mint | inspect | revoke`: results to stdout, problems to stderr; the exit code."""
    context = Context(loaded.of(TokenKeys), time.time() if now is None else now, catalog)
    try:
        if loaded.command == "token mint":
            return _mint(loaded.of(MintOptions), context)
        if loaded.command == "token inspect":
            return _inspect(loaded.of(InspectOptions), context)
        if loaded.command == "token list":
            print(list_records(context.keys, loaded.of(TokenListOptions)))
            return 0
        if loaded.command == "token prune":
            print(prune_records(context.keys))
            return 0
        return _revoke(loaded.of(RevokeOptions), context)
    except (UsageError, SecretsError, StoreSetupError) as exc:
        _error(str(exc))
        return 2
    except StoreUnreachable as exc:
        _error(str(exc))
        return 1


def _mint(args: MintOptions, context: Context) -> int:
    _check_pattern(args.name, NAME_PATTERN, "--name", "1-64 printable characters")
    _check_pattern(args.account, ACCOUNT_PATTERN, "--account", "letters, digits, '_', '.', '-'; up to 64")
    scopes = scopes_from_args(args, context.catalog())
    allowed = _allowed_tools(scopes, context.catalog())
    if not allowed and not (
        args.metrics_only or args.admin
    ):  # a typo's empty intersection, unlike --metrics-only's
        raise UsageError("these scopes allow none of the tools in the catalog; widen them")
    expires_at = parse_expires(args.expires, context.now)
    base_url = _base_url(args.base_url)
    secrets = _signing_secrets(context.keys)
    if not secrets:
        raise UsageError(
            f"no signing secret configured: set {ENV_SECRETS} (32+ characters; generate one with "
            f"{GENERATE_HINT}) or {ENV_SECRET_FILE}, the same ones the server uses"
        )
    minted = mint(
        secrets[0],
        name=args.name,
        scopes=scopes,
        expires_at=expires_at,
        account=args.account,
        require_header=args.require_header,
        issued_at=context.now,
    )
    # Recorded before it is shown: a token `token list` cannot show is never handed out.
    recorded_in = record_minted(context.keys, minted.claims)
    _print_minted(minted, base_url, context)
    if recorded_in is None:
        print("Not recorded: no store here yet (`token list` shows tokens minted with the server's store).")
    return 0


def _inspect(args: InspectOptions, context: Context) -> int:
    secrets = [] if args.unverified else _signing_secrets(context.keys)
    try:
        claims = check_signature(args.token, secrets) if secrets else inspect(args.token)
    except TokenError as exc:
        hint = " (add --unverified to read its claims anyway)" if exc.code == "bad_signature" else ""
        _error(f"invalid token: {exc.reason}{hint}")
        return 1
    if secrets:
        print("signature: verified (signed with a configured secret)")
    else:
        why = "--unverified" if args.unverified else "no signing secret configured"
        print(f"signature: UNVERIFIED ({why}): anyone could have written these claims")
    _print_claims(claims, context.now)
    print(f"revoked:   {revoked_status(claims.jti, context.keys)}")
    _print_scopes(claims.scopes, context.catalog())
    return 0


def _revoke(args: RevokeOptions, context: Context) -> int:
    """Into the file when one is named (as before), into the store when none is or one is configured."""
    try:
        secrets = _signing_secrets(context.keys)
    except SecretsError:
        secrets = []  # the id is revoked all the same; without a secret no expiry can be trusted
    jti, expires_at = _revocation_target(args.jti, secrets)
    path = context.keys.token_revocation_file
    if path is not None:
        note = f"revoked {format_time(context.now)}" + (f": {args.reason}" if args.reason else "")
        try:
            added = append_revocation(path, jti, note=note)
        except (OSError, UnicodeDecodeError) as exc:
            _error(f"cannot update {path}: {getattr(exc, 'strerror', None) or type(exc).__name__}")
            return 1
        state = "revoked" if added else "was already revoked"
        print(f"{jti} {state} in {path}; a server reading that file refuses it from its next request.")
    if path is None or store_configured(context.keys):
        try:
            print(revoke_in_store(context.keys, args.reason, jti, expires_at))
        except StoreSetupError as exc:
            raise UsageError(str(exc)) from None
        except StoreUnreachable as exc:
            _error(str(exc))
            return 1
    return 0


def scopes_from_args(args: MintOptions, catalog: Catalog) -> Scopes:
    """Scopes from the mint flags, refusing names the catalog does not have (typos deny silently)."""
    if args.metrics_only:
        return _metrics_only(args)
    if args.admin:
        return _admin_only(args)
    tags = sorted({tag for spec in catalog.tools.values() for tag in spec.tags})
    return Scopes.model_validate(
        {
            "methods": _methods(args.methods),
            "toolsets": _names(args.toolsets, "--toolsets", "toolset", list(catalog.toolsets)),
            "tools": _names(args.tools, "--tools", "tool", list(catalog.tools)),
            "read_only": args.read_only,
            "tags": _names(args.tags, "--tags", "tag", tags),
            "metrics": True if args.metrics else None,
            "proxy": True if args.proxy else None,
        }
    )


def _metrics_only(args: MintOptions) -> Scopes:
    """No tool at all (an empty tool list allows nothing), /metrics only: a scraper's token, which sits
    in a monitoring system's configuration, cannot spend the key."""
    narrowing = [
        args.methods,
        args.toolsets,
        args.tools,
        args.tags,
        args.read_only or None,
        args.proxy or None,
    ]
    if any(value is not None for value in narrowing):
        raise UsageError(
            "--metrics-only allows no tool and no proxy: leave out --methods, --toolsets, --tools, --tags, "
            "--read-only and --proxy"
        )
    return Scopes(tools=frozenset(), metrics=True)


def _admin_only(args: MintOptions) -> Scopes:
    """No tool, no proxy, no metrics: the admin API only, so the token that issues tokens is never also
    a working MCP or API credential (and never sits in a client's settings)."""
    if any(
        value
        for value in (
            args.methods,
            args.toolsets,
            args.tools,
            args.tags,
            args.read_only,
            args.proxy,
            args.metrics,
        )
    ):
        raise UsageError(
            "--admin allows the admin API only: leave out --methods, --toolsets, --tools, --tags, "
            "--read-only, --proxy and --metrics"
        )
    return Scopes(tools=frozenset(), admin=True)


def parse_expires(text: str, now: float) -> float | None:
    """`never`, a lifetime (90m, 24h, 7d, 2w) or an ISO-8601 time (UTC unless it has an offset)."""
    value = text.strip()
    if value.lower() == "never":
        return None
    match = _DURATION.fullmatch(value.lower())
    if match:
        expires_at = now + int(match[1]) * UNIT_SECONDS[match[2]]
    else:
        expires_at = _parse_time(value, text)
    if expires_at <= now:
        raise UsageError(f"--expires {text!r} is not in the future")
    if expires_at - now > MAX_LIFETIME_SECONDS:
        raise UsageError(f"--expires {text!r} is more than 10 years away; use --expires never if you mean it")
    return expires_at


def _parse_time(value: str, text: str) -> float:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--expires {text!r}: expected a lifetime (90m, 24h, 7d, 2w), an ISO-8601 time "
            "such as 2030-01-31T12:00:00Z, or never"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _names(raw: str | None, flag: str, noun: str, known: Collection[str]) -> frozenset[str] | None:
    if raw is None:
        return None
    names = frozenset(name.strip() for name in raw.split(",") if name.strip())
    if not names:
        raise UsageError(f"{flag} is empty; leave it out to allow every {noun}")
    unknown = sorted(names - set(known))
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        raise UsageError(f"{flag}: unknown {noun} {listed}; choose from {', '.join(known) or '(none)'}")
    return names


def _methods(raw: str | None) -> frozenset[str] | None:
    retired = [name.strip() for name in (raw or "").split(",") if name.strip() in RETIRED_CLASSES]
    try:
        method_classes(retired, "--methods")
    except UnknownMethodClass as exc:
        raise UsageError(str(exc)) from None
    return _names(raw, "--methods", "method class", METHOD_CLASSES)


def _check_pattern(value: str, pattern: str, flag: str, expected: str) -> None:
    if not re.fullmatch(pattern, value):
        raise UsageError(f"{flag} {value!r} is not valid: expected {expected}")


def _base_url(raw: str) -> str:
    if not _BASE_URL.fullmatch(raw):
        raise UsageError(f"--base-url {raw!r}: expected http://HOST:PORT or https://HOST")
    return raw.rstrip("/")


def _signing_secrets(keys: TokenKeys) -> list[bytes]:
    return load_signing_secrets(keys.token_secrets, keys.token_secret_file)


def _revocation_target(value: str, secrets: list[bytes]) -> tuple[str, float | None]:
    """The token id, and the token's expiry when the whole token was given and is signed here."""
    if value.startswith(PREFIX + "."):
        try:
            # Unverified is enough for the id: revoking can only take access away.
            claims = inspect(value)
        except TokenError as exc:
            raise UsageError(exc.reason) from None
        return claims.jti, _signed_expiry(value, secrets)
    if not re.fullmatch(JTI_PATTERN, value):
        raise UsageError(f"{value!r} is not a token id (they look like tok_abcdefgh2345) or a token")
    return value, None


def _signed_expiry(token: str, secrets: list[bytes]) -> float | None:
    """The expiry a token signed with one of `secrets` carries, else None. The revocation is dropped an
    hour after this expiry (state/issued_tokens.py), so an edited copy of a leaked token claiming
    an early expiry must not shorten its revocation: None keeps it for good."""
    try:
        return check_signature(token, secrets).exp if secrets else None
    except TokenError:
        return None


def _allowed_tools(scopes: Scopes, catalog: Catalog) -> list[str]:
    return [name for name, spec in catalog.tools.items() if scopes.allows(spec) is None]


def _print_minted(minted: Minted, base_url: str, context: Context) -> None:
    print(f"token:     {minted.token}")
    _print_claims(minted.claims, context.now)
    _print_scopes(minted.claims.scopes, context.catalog())
    print()
    print("Give it to the client in either form:")
    print(f"  URL:          {base_url}/mcp/t/{minted.token}")
    print(f"  HTTP header:  Authorization: Bearer {minted.token}")
    if minted.header_secret:
        print()
        print("Every request must ALSO send this header. It is shown only once and stored nowhere:")
        print(f"  {HEADER_NAME}: {minted.header_secret}")
    print()
    print(f"Revoke it with: aai-mcp token revoke {minted.jti}")


def _print_claims(claims: Claims, now: float) -> None:
    print(f"id:        {claims.jti}")
    print(f"name:      {claims.name}")
    print(f"account:   {claims.account}")
    print(f"issued:    {format_time(claims.iat)}")
    print(f"expires:   {_expiry(claims, now)}")
    print(f"header:    {f'{HEADER_NAME} required' if claims.hdr else 'none required'}")


def _print_scopes(scopes: Scopes, catalog: Catalog) -> None:
    def listed(values: frozenset[str] | None) -> str:
        return "any" if values is None else ", ".join(sorted(values)) or "(none)"

    print(f"methods:   {listed(scopes.methods)}")
    print(f"toolsets:  {listed(scopes.toolsets)}")
    print(f"tools:     {listed(scopes.tools)}")
    print(f"read-only: {'yes' if scopes.read_only else 'no'}")
    print(f"tags:      {listed(scopes.tags)}")
    print(f"metrics:   {'yes' if scopes.metrics else 'no'}")
    print(f"proxy:     {'yes' if scopes.proxy else 'no'}")
    print(f"admin:     {'yes (bearer only)' if scopes.admin else 'no'}")
    allowed = _allowed_tools(scopes, catalog)
    print(f"allows:    {len(allowed)} of {len(catalog.tools)} tools: {', '.join(allowed) or '(none)'}")


def _expiry(claims: Claims, now: float) -> str:
    if claims.exp is None:
        return "never"
    if claims.expired(now):
        return f"{format_time(claims.exp)} (EXPIRED)"
    return f"{format_time(claims.exp)} (in {_duration(claims.exp - now)})"


def _duration(seconds: float) -> str:
    minutes = int(seconds) // 60
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    return " ".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n) or "under 1m"


def _error(message: str) -> None:
    print(f"aai-mcp token: {message}", file=sys.stderr)
