"""API credentials, loaded from environment variables or a file whose names the user gives.

Nothing here ever shows a secret: the repr hides it and shows only the API key's last four
characters, and every error names the variable, file or field, never a value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from arbcore.venues.signing.errors import CredentialsError

#: Field names accepted in a credentials file, first match wins. The CDP key file that
#: Coinbase offers for download names them ``name``/``id`` and ``privateKey``.
_KEY_FIELDS = ("api_key", "name", "id")
_SECRET_FIELDS = ("secret", "privateKey")
_PASSPHRASE_FIELDS = ("passphrase",)


def mask_key(api_key: str) -> str:
    """Enough of an API key to tell two keys apart in a log, not enough to use one."""
    return f"...{api_key[-4:]}" if len(api_key) >= 16 else "***"


@dataclass(frozen=True, slots=True)
class Credentials:
    """An API key, its secret (HMAC secret, or a PEM / base64 private key for Coinbase CDP),
    and the passphrase OKX requires. Slots: no ``__dict__`` for a debugger or ``vars()`` to dump."""

    api_key: str
    secret: str
    passphrase: str | None = None

    def __post_init__(self) -> None:
        if not self.api_key.strip():
            raise CredentialsError("the API key is empty")
        if not self.secret.strip():
            raise CredentialsError("the API secret is empty")
        if self.passphrase is not None and not self.passphrase.strip():
            raise CredentialsError("the passphrase is empty")

    def __repr__(self) -> str:
        passphrase = ", passphrase=<hidden>" if self.passphrase is not None else ""
        return f"Credentials(api_key={mask_key(self.api_key)!r}, secret=<hidden>{passphrase})"

    __str__ = __repr__

    @classmethod
    def from_env(
        cls,
        key_var: str,
        secret_var: str,
        passphrase_var: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Read the variables named, e.g. ``from_env(key_var="BINANCE_KEY", secret_var="BINANCE_SECRET")``."""
        env = os.environ if environ is None else environ

        def read(var: str) -> str:
            value = env.get(var)
            if value is None:
                raise CredentialsError(f"environment variable {var} is not set")
            if not value.strip():
                raise CredentialsError(f"environment variable {var} is empty")
            return value.strip()

        passphrase = read(passphrase_var) if passphrase_var is not None else None
        return cls(read(key_var), _unescape_pem(read(secret_var)), passphrase)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Credentials:
        """Read a JSON object with ``api_key``, ``secret`` and optionally ``passphrase``, or a
        Coinbase CDP key file (``name`` or ``id``, and ``privateKey``)."""
        where = Path(path)
        # Each failure is raised outside its handler: json's and the codec's errors keep the
        # document itself (`.doc`, `.object`) and would ride along as __context__.
        problem, data = None, None
        try:
            data = json.loads(where.read_text(encoding="utf-8"))
        except OSError as e:
            problem = f"cannot be read: {e.strerror}"
        except UnicodeDecodeError:
            problem = "is not UTF-8 text"
        except ValueError:
            problem = "is not valid JSON"
        if problem is not None:
            raise CredentialsError(f"credentials file {where} {problem}")
        if not isinstance(data, dict):
            raise CredentialsError(f"credentials file {where} must hold a JSON object")

        def field(names: tuple[str, ...], required: bool) -> str | None:
            for name in names:
                if name in data:
                    value = data[name]
                    if not isinstance(value, str) or not value.strip():
                        raise CredentialsError(f"field {name!r} in credentials file {where} must be a non-empty string")
                    return value.strip()
            if required:
                raise CredentialsError(f"credentials file {where} has no {' or '.join(map(repr, names))} field")
            return None

        key = field(_KEY_FIELDS, required=True)
        secret = field(_SECRET_FIELDS, required=True)
        assert key is not None and secret is not None  # required=True raised otherwise
        return cls(key, _unescape_pem(secret), field(_PASSPHRASE_FIELDS, required=False))


def _unescape_pem(secret: str) -> str:
    # Coinbase's docs suggest passing the PEM key on one line with literal "\n" escapes.
    if secret.startswith("-----BEGIN") and "\n" not in secret and "\\n" in secret:
        return secret.replace("\\n", "\n")
    return secret
