"""Request signing for the venues' private APIs, exactly as each venue documents it.

Pure functions of their inputs (timestamps and nonces are passed in, so tests are exact), one
module per venue; `Credentials` never shows its secret. Vectors: venue-protocols.md §8.
"""

from arbcore.venues.signing.binance import binance_sign_request, binance_signature
from arbcore.venues.signing.bybit import (
    bybit_prehash,
    bybit_sign_request,
    bybit_signature,
    bybit_ws_auth,
    bybit_ws_signature,
)
from arbcore.venues.signing.coinbase import coinbase_jwt, coinbase_sign_request, coinbase_uri
from arbcore.venues.signing.common import SignedRequest, encode_params
from arbcore.venues.signing.credentials import Credentials, mask_key
from arbcore.venues.signing.errors import CredentialsError, SigningError
from arbcore.venues.signing.kraken import KrakenNonce, kraken_sign_request, kraken_signature
from arbcore.venues.signing.okx import okx_sign_request, okx_signature, okx_timestamp, okx_ws_login

__all__ = [
    "Credentials",
    "CredentialsError",
    "KrakenNonce",
    "SignedRequest",
    "SigningError",
    "binance_sign_request",
    "binance_signature",
    "bybit_prehash",
    "bybit_sign_request",
    "bybit_signature",
    "bybit_ws_auth",
    "bybit_ws_signature",
    "coinbase_jwt",
    "coinbase_sign_request",
    "coinbase_uri",
    "encode_params",
    "kraken_sign_request",
    "kraken_signature",
    "mask_key",
    "okx_sign_request",
    "okx_signature",
    "okx_timestamp",
    "okx_ws_login",
]
