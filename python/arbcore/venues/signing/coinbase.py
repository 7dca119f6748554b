"""Coinbase Advanced Trade with CDP keys (venue-protocols.md §3.3; randomised, so no fixed vector).

Each request carries ``Authorization: Bearer <JWT>``, a fresh JWT signed ES256 (ECDSA P-256 with
SHA-256, signature as raw r||s) or EdDSA for Ed25519 keys. Header ``{alg, kid: key name, nonce:
random hex, typ: "JWT"}``; claims ``{sub: key name, iss: "cdp", nbf: now, exp: now + 120, uri:
"METHOD host/path"}``, ``uri`` left out for WebSocket JWTs. Confirmed with Coinbase's CDP JWT
page and SDK docs (docs search, 2026): the issuer is "cdp", the JWT lives 2 minutes, and the
``uri`` path excludes the query string.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
from functools import lru_cache
from typing import TypeAlias

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from arbcore.venues.signing.common import SignedRequest, b64decode_secret
from arbcore.venues.signing.credentials import Credentials
from arbcore.venues.signing.errors import CredentialsError, SigningError

HOST = "api.coinbase.com"
#: Coinbase accepts a JWT for at most 2 minutes.
MAX_TTL_S = 120
_P256_BYTES = 32

_SigningKey: TypeAlias = ec.EllipticCurvePrivateKey | Ed25519PrivateKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@lru_cache(maxsize=16)
def _load_key(secret: str) -> _SigningKey:
    # Parsing a PEM costs far more than signing; the cache keeps it off the order path.
    if not secret.startswith("-----BEGIN"):
        # CDP's Ed25519 secrets are base64 of seed + public key (64 bytes), or of the seed alone.
        raw = b64decode_secret(secret, "the Coinbase key secret (not PEM, so base64 Ed25519)", CredentialsError)
        if len(raw) not in (32, 64):
            raise CredentialsError(f"a base64 Ed25519 Coinbase key must decode to 32 or 64 bytes, not {len(raw)}")
        return Ed25519PrivateKey.from_private_bytes(raw[:32])
    key: object = None
    # Failure is raised below, outside any handler, so the parser's error is not kept as context.
    with contextlib.suppress(ValueError, TypeError):
        key = serialization.load_pem_private_key(secret.encode(), password=None)
    if key is None:
        raise CredentialsError("the Coinbase key secret is not a readable unencrypted PEM private key")
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    if isinstance(key, Ed25519PrivateKey):
        return key
    raise CredentialsError("the Coinbase key must be an EC P-256 (ES256) or Ed25519 private key")


def coinbase_uri(method: str, path: str, host: str = HOST) -> str:
    """``POST api.coinbase.com/api/v3/brokerage/orders``: no scheme, no query string."""
    if not path.startswith("/"):
        raise SigningError(f"the request path must start with '/': {path!r}")
    return f"{method.upper()} {host}{path.partition('?')[0]}"


def coinbase_jwt(
    creds: Credentials,
    *,
    now_s: int,
    method: str | None = None,
    path: str | None = None,
    host: str = HOST,
    ttl_s: int = MAX_TTL_S,
    nonce: str | None = None,
) -> str:
    """A JWT for one REST request (``method`` and ``path``) or, with neither, for the WebSocket."""
    if (method is None) != (path is None):
        raise SigningError("give both method and path (REST) or neither (WebSocket)")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise SigningError(f"JWT lifetime {ttl_s} s is outside (0, {MAX_TTL_S}]")
    key = _load_key(creds.secret)
    alg = "EdDSA" if isinstance(key, Ed25519PrivateKey) else "ES256"
    header = {"alg": alg, "kid": creds.api_key, "nonce": nonce or secrets.token_hex(), "typ": "JWT"}
    claims: dict[str, str | int] = {"sub": creds.api_key, "iss": "cdp", "nbf": now_s, "exp": now_s + ttl_s}
    if method is not None and path is not None:
        claims["uri"] = coinbase_uri(method, path, host)
    signing_input = ".".join(_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    if isinstance(key, Ed25519PrivateKey):
        signature = key.sign(signing_input.encode())
    else:
        # JWS wants the fixed-width r||s pair, not the DER that cryptography returns.
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
    return f"{signing_input}.{_b64url(signature)}"


def coinbase_sign_request(
    creds: Credentials, *, now_s: int, method: str, path: str, body: str = "", host: str = HOST
) -> SignedRequest:
    """Headers for one Advanced Trade REST call; build a new one per request (Coinbase wants one JWT per request)."""
    headers = {"Authorization": f"Bearer {coinbase_jwt(creds, now_s=now_s, method=method, path=path, host=host)}"}
    if body:
        headers["Content-Type"] = "application/json"
    return SignedRequest(headers=headers, query=path.partition("?")[2], body=body)
