"""Errors of the signing package. Messages name variables, files, fields and parameters,
never their values: a secret must not reach a log through an exception."""

from arbcore.errors import ArbcoreError


class SigningError(ArbcoreError, ValueError):
    """A request that cannot be signed as the venue documents it (bad input or key)."""


class CredentialsError(SigningError):
    """Credentials that are missing, empty or malformed; the message names where they came from."""
