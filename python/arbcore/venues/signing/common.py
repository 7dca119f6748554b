"""What every venue's signer shares: the signed-request value and parameter encoding."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias
from urllib.parse import quote, urlencode

from arbcore.venues.signing.errors import SigningError

try:
    from _hashlib import hmac_new as _c_hmac_new
except ImportError:  # a Python without OpenSSL's hashlib: the hmac module's own object
    _c_hmac_new = None  # type: ignore[assignment]

#: Request parameters in send order (a Mapping keeps insertion order). Values are str, int,
#: Decimal or bool, checked at run time: a dict literal mixing them types as dict[str, object].
Params: TypeAlias = Mapping[str, object] | Iterable[tuple[str, object]]


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What to put on the wire. ``headers`` carry the API key, so the repr shows header names only."""

    headers: Mapping[str, str] = field(repr=False)
    #: the query string to send (no leading ``?``), already signed where the venue signs it
    query: str = ""
    #: the body to send byte for byte: the signature covers exactly this text
    body: str = ""

    def __repr__(self) -> str:
        return f"SignedRequest(headers={sorted(self.headers)}, query={self.query!r}, body={self.body!r})"


def hmac_sha256(secret: bytes, message: str) -> bytes:
    return hmac.new(secret, message.encode(), hashlib.sha256).digest()


def _keyed_sha256(secret: bytes) -> Any:
    # OpenSSL's HMAC object itself when present (copy/update/digest in C, no Python wrapper)
    if _c_hmac_new is not None:
        with contextlib.suppress(ValueError):
            return _c_hmac_new(secret, digestmod="sha256")
    return hmac.new(secret, digestmod=hashlib.sha256)


class KeyedHmac:
    """HMAC-SHA256 keyed once, for a client that signs with the same secret on every request:
    each signature copies the keyed state instead of hashing the key again. Optionally with a
    fixed start of every message (``prefix``) already hashed. Same bytes as `hmac_sha256` of
    ``prefix + message``."""

    __slots__ = ("_mac",)

    def __init__(self, secret: bytes, prefix: str = "") -> None:
        mac = _keyed_sha256(secret)
        if prefix:
            mac.update(prefix.encode())
        self._mac = mac

    def extended(self, prefix: str) -> KeyedHmac:
        """The same key with ``prefix`` hashed after what this one has hashed already."""
        out = KeyedHmac.__new__(KeyedHmac)
        mac = self._mac.copy()
        mac.update(prefix.encode())
        out._mac = mac
        return out

    def digest(self, message: str) -> bytes:
        mac = self._mac.copy()
        mac.update(message.encode())
        return mac.digest()  # type: ignore[no-any-return]

    def hexdigest(self, message: str) -> str:
        mac = self._mac.copy()
        mac.update(message.encode())
        return mac.hexdigest()  # type: ignore[no-any-return]


def _param_text(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str | int):
        return str(value)
    # A float prints as 1e-05 or 0.30000000000000004: an order would carry a price nobody chose.
    if isinstance(value, float):
        raise SigningError(f"parameter {name!r} is a float; pass prices and quantities as str or Decimal")
    raise SigningError(f"parameter {name!r} is a {type(value).__name__}; pass str, int, Decimal or bool")


def encode_params(params: Params) -> str:
    """URL-encode in the given order, UTF-8 percent-encoded (Binance signs it so, docs §8.4),
    spaces as ``%20`` rather than ``+`` so the signed text is what every server decodes."""
    items = params.items() if isinstance(params, Mapping) else params
    return urlencode([(k, _param_text(k, v)) for k, v in items], quote_via=quote)


def b64decode_secret(secret: str, what: str, error: type[SigningError] = SigningError) -> bytes:
    with contextlib.suppress(binascii.Error, ValueError):
        return base64.b64decode(secret, validate=True)
    # Raised outside the handler: the decoder's error would otherwise stay attached as
    # __context__, and errors of this kind may quote their input.
    raise error(f"{what} is not valid base64")
