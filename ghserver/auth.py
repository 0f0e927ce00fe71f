"""GitHub's credentials: App JWTs (RS256, short-lived) and installation tokens (REST and git)."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from ghserver.errors import bad_credentials, forbidden, jwt_error, not_found
from ghserver.model import App, Repo, Token
from ghserver.state import State, token_covers

# GitHub refuses JWTs that live longer than ten minutes; a little clock skew is forgiven.
MAX_JWT_LIFETIME = 600
CLOCK_SKEW = 60
_LEVELS = {"read": 1, "write": 2, "admin": 3}


@dataclass(frozen=True)
class Credential:
    """The scheme and secret of an Authorization header."""

    scheme: str
    secret: str


def parse_header(header: str | None) -> Credential | None:
    """`Bearer x`, `token x` or `Basic x` as a Credential; None when absent or malformed."""
    if not header:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if not secret.strip():
        return None
    return Credential(scheme.lower(), secret.strip())


def app_from_jwt(state: State, credential: Credential | None, at: float | None = None) -> App:
    """The App whose private key signed this bearer JWT, checked as GitHub checks it."""
    if credential is None or credential.scheme != "bearer" or credential.secret.count(".") != 2:
        raise jwt_error()
    try:
        claims = jwt.decode(credential.secret, options={"verify_signature": False})
        app = _app_for_issuer(state, claims.get("iss"))
        jwt.decode(
            credential.secret,
            key=app.public_key_pem,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise jwt_error() from None
    _check_times(claims, time.time() if at is None else at)
    return app


def _app_for_issuer(state: State, issuer: object) -> App:
    if isinstance(issuer, str) and issuer.isdigit():
        issuer = int(issuer)
    if isinstance(issuer, str):  # GitHub also accepts the App's client id
        by_client = {f"Iv1.{app.id:016x}": app for app in state.apps.values()}
        if issuer in by_client:
            return by_client[issuer]
    if not isinstance(issuer, int) or issuer not in state.apps:
        raise jwt_error("'Issuer' claim ('iss') must be an Integer")
    return state.apps[issuer]


def _check_times(claims: dict[str, object], at: float) -> None:
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int) or issued > at + CLOCK_SKEW:
        raise jwt_error(
            "'Issued at' claim ('iat') must be an Integer representing the time that the "
            "assertion was issued."
        )
    if not isinstance(expires, int) or expires <= at - CLOCK_SKEW:
        raise jwt_error(
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires."
        )
    if (
        expires - issued > MAX_JWT_LIFETIME + CLOCK_SKEW
        or expires > at + MAX_JWT_LIFETIME + CLOCK_SKEW
    ):
        raise jwt_error("'Expiration time' claim ('exp') is too far in the future.")


def installation_token(state: State, credential: Credential | None) -> Token:
    """The live installation token in a `token x` or `Bearer x` header, else 401."""
    if credential is None or credential.scheme not in ("token", "bearer"):
        raise bad_credentials()
    return _live_token(state, credential.secret)


def _live_token(state: State, secret: str) -> Token:
    token = state.tokens.get(secret)
    if token is None or token.expires_at <= datetime.now(UTC):
        raise bad_credentials()
    return token


def basic_token(state: State, credential: Credential | None) -> Token:
    """The installation token in HTTP Basic credentials (`x-access-token:<token>`), else 401."""
    if credential is None or credential.scheme != "basic":
        raise bad_credentials()
    try:
        user, _, password = (
            base64.b64decode(credential.secret, validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError):
        raise bad_credentials() from None
    if not user or not password:
        raise bad_credentials()
    return _live_token(state, password)


def repo_for(state: State, token: Token, owner: str, name: str) -> Repo:
    """A repository the token may see; any other is "Not Found", as GitHub hides private repos."""
    repo = state.repo(owner, name)
    if not token_covers(token, repo):
        raise not_found()
    return repo


def require(token: Token, level: str, *permissions: str) -> None:
    """403 unless the token holds one of `permissions` at `level` or above."""
    for permission in permissions:
        if _LEVELS.get(token.permissions.get(permission, ""), 0) >= _LEVELS[level]:
            return
    raise forbidden()
