"""Request signing: every published vector (venue-protocols.md §8.4-8.6), the documented
algorithm recomputed independently where no vector exists, tamper checks, and secret hygiene."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import traceback
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from arbcore.venues.signing import (
    Credentials,
    CredentialsError,
    KrakenNonce,
    SigningError,
    binance_sign_request,
    binance_signature,
    bybit_prehash,
    bybit_sign_request,
    bybit_signature,
    bybit_ws_auth,
    coinbase_jwt,
    coinbase_sign_request,
    kraken_sign_request,
    kraken_signature,
    okx_sign_request,
    okx_signature,
    okx_timestamp,
    okx_ws_login,
)
from arbcore.venues.signing.common import KeyedHmac, hmac_sha256


def test_keyed_hmac_is_hmac_sha256_of_prefix_and_message() -> None:
    """The per-client keyed signer (`KeyedHmac`) gives the same bytes as keying on every call."""
    for secret in (b"", b"k", BINANCE_SECRET.encode(), b"x" * 200):  # short, the docs' key, longer than a block
        mac = KeyedHmac(secret)
        ext = mac.extended("apiKey=abc&")
        for msg in ("", "symbol=LTCBTC", "\u00e9t\u00e9" * 40):
            assert mac.digest(msg) == hmac_sha256(secret, msg)
            assert mac.hexdigest(msg) == hmac.new(secret, msg.encode(), hashlib.sha256).hexdigest()
            assert ext.hexdigest(msg) == hmac_sha256(secret, "apiKey=abc&" + msg).hex()
        assert KeyedHmac(secret, "p=1&").digest("q") == hmac_sha256(secret, "p=1&q")
        assert mac.digest("a") == mac.digest("a")  # signing leaves the keyed state as it was


# -- §8.4 Binance (spot docs; futures use the same algorithm) -------------------------------
BINANCE_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
BINANCE_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
BINANCE = Credentials(BINANCE_KEY, BINANCE_SECRET)
BINANCE_ORDER = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": 1, "price": "0.1"}
BINANCE_TS = 1499827319559
BINANCE_PAYLOAD_1 = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
BINANCE_SIG_1 = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
BINANCE_PAYLOAD_2 = (
    "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC"
    "&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
BINANCE_SIG_2 = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
BINANCE_SYMBOL_2 = "\uff11\uff12\uff13\uff14\uff15\uff16"  # the docs' full-width "123456"

# -- §8.5 Kraken REST (docs) ----------------------------------------------------------------
KRAKEN_SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
KRAKEN_NONCE = 1616492376594
KRAKEN_PATH = "/0/private/AddOrder"
KRAKEN_POST = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
KRAKEN_SIGN = "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ=="

# -- §8.6: no secret published for OKX or Bybit; the docs' example secret *format* for OKX ----
OKX_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"
OKX = Credentials("okx-test-api-key-0001", OKX_SECRET, passphrase="test-passphrase")
BYBIT_SECRET = "bybit-test-secret-0123456789abcdef"
BYBIT = Credentials("XXXXXXXXXX", BYBIT_SECRET)


def independent_hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


# == published vectors =======================================================================
@pytest.mark.parametrize(
    ("payload", "expected"), [(BINANCE_PAYLOAD_1, BINANCE_SIG_1), (BINANCE_PAYLOAD_2, BINANCE_SIG_2)]
)
def test_binance_docs_vectors(payload: str, expected: str) -> None:
    assert binance_signature(BINANCE_SECRET, payload) == expected


@pytest.mark.parametrize(
    ("symbol", "payload", "expected"),
    [("LTCBTC", BINANCE_PAYLOAD_1, BINANCE_SIG_1), (BINANCE_SYMBOL_2, BINANCE_PAYLOAD_2, BINANCE_SIG_2)],
)
def test_binance_request_builds_the_docs_payload(symbol: str, payload: str, expected: str) -> None:
    # From parameters, non-ASCII included: the encoder must produce the docs' exact query.
    signed = binance_sign_request(BINANCE, {"symbol": symbol, **BINANCE_ORDER}, timestamp_ms=BINANCE_TS)
    assert signed.query == f"{payload}&signature={expected}"
    assert signed.headers == {"X-MBX-APIKEY": BINANCE_KEY}
    assert signed.body == ""


def test_binance_signs_query_and_body_without_separator() -> None:
    query, body = "symbol=LTCBTC&side=BUY", "&type=LIMIT&timestamp=1"
    assert binance_signature(BINANCE_SECRET, query, body) == independent_hmac_hex(BINANCE_SECRET, query + body)
    signed = binance_sign_request(BINANCE, {"symbol": "LTCBTC"}, timestamp_ms=1, recv_window_ms=None, body="a=1")
    assert signed.query.startswith("symbol=LTCBTC&timestamp=1&signature=")
    assert signed.query.endswith(independent_hmac_hex(BINANCE_SECRET, "symbol=LTCBTC&timestamp=1a=1"))


def test_binance_refuses_unencoded_payload_float_and_bad_recv_window() -> None:
    with pytest.raises(SigningError, match="percent-encoded"):
        binance_signature(BINANCE_SECRET, f"symbol={BINANCE_SYMBOL_2}")
    with pytest.raises(SigningError, match="'price' is a float"):
        binance_sign_request(BINANCE, {"price": 0.1}, timestamp_ms=1)
    with pytest.raises(SigningError, match="'side' is a NoneType"):
        binance_sign_request(BINANCE, {"side": None}, timestamp_ms=1)
    with pytest.raises(SigningError, match="recvWindow"):
        binance_sign_request(BINANCE, {}, timestamp_ms=1, recv_window_ms=60_001)
    # Decimals print in plain notation, never as 1E-7.
    signed = binance_sign_request(BINANCE, {"quantity": Decimal("1E-7"), "reduceOnly": True}, timestamp_ms=1)
    assert signed.query.startswith("quantity=0.0000001&reduceOnly=true&")


def test_kraken_docs_vector() -> None:
    assert kraken_signature(KRAKEN_SECRET, KRAKEN_PATH, KRAKEN_NONCE, KRAKEN_POST) == KRAKEN_SIGN


def test_kraken_request_builds_the_docs_body() -> None:
    params = {"ordertype": "limit", "pair": "XBTUSD", "price": 37500, "type": "buy", "volume": "1.25"}
    signed = kraken_sign_request(Credentials("kraken-key", KRAKEN_SECRET), KRAKEN_PATH, params, KRAKEN_NONCE)
    assert signed.body == KRAKEN_POST
    assert signed.headers["API-Sign"] == KRAKEN_SIGN
    assert signed.headers["API-Key"] == "kraken-key"


def test_kraken_nonce_strictly_increases_even_when_the_clock_stalls_or_steps_back() -> None:
    readings = iter([1000, 1000, 1000, 999, 1005, 1001])
    nonce = KrakenNonce(clock_ms=lambda: next(readings))
    assert [nonce() for _ in range(6)] == [1000, 1001, 1002, 1003, 1005, 1006]
    assert KrakenNonce(clock_ms=lambda: 5, last=10)() == 11  # resumes past a persisted nonce


def test_kraken_refuses_bad_secret_and_public_paths() -> None:
    with pytest.raises(SigningError, match="base64"):
        kraken_signature("not base64!!", KRAKEN_PATH, 1, "nonce=1")
    with pytest.raises(SigningError, match="/0/private/"):
        kraken_sign_request(Credentials("k", KRAKEN_SECRET), "/0/public/Time", {}, 1)


def test_bybit_docs_prehash_strings() -> None:
    # The docs print these strings to sign (their secret is unpublished, §8.6).
    get = bybit_prehash(1658384314791, "XXXXXXXXXX", 5000, "category=option&symbol=BTC-29JUL22-25000-C")
    assert get == "1658384314791XXXXXXXXXX5000category=option&symbol=BTC-29JUL22-25000-C"
    post = bybit_prehash(1658385579423, "XXXXXXXXXX", 5000, '{"category": "option"}')
    assert post == '1658385579423XXXXXXXXXX5000{"category": "option"}'


@pytest.mark.parametrize(
    ("ts", "query", "body"),
    [(1658384314791, "category=option&symbol=BTC-29JUL22-25000-C", ""), (1658385579423, "", '{"category": "option"}')],
)
def test_bybit_rest_recomputed_independently(ts: int, query: str, body: str) -> None:
    signed = bybit_sign_request(BYBIT, timestamp_ms=ts, query=query, body=body)
    expected = independent_hmac_hex(BYBIT_SECRET, f"{ts}XXXXXXXXXX5000{query or body}")
    assert signed.headers["X-BAPI-SIGN"] == expected == expected.lower()
    assert signed.headers["X-BAPI-API-KEY"] == "XXXXXXXXXX"
    assert signed.headers["X-BAPI-TIMESTAMP"] == str(ts)
    assert signed.headers["X-BAPI-RECV-WINDOW"] == "5000"
    assert (signed.query, signed.body) == (query, body)


def test_bybit_ws_auth_recomputed_independently() -> None:
    frame = json.loads(bybit_ws_auth(BYBIT, 1662350400000))
    assert frame == {
        "op": "auth",
        "args": ["XXXXXXXXXX", 1662350400000, independent_hmac_hex(BYBIT_SECRET, "GET/realtime1662350400000")],
    }


def test_bybit_refuses_query_and_body_together() -> None:
    with pytest.raises(SigningError, match="not both"):
        bybit_sign_request(BYBIT, timestamp_ms=1, query="a=1", body="{}")


def independent_okx(message: str) -> str:
    return base64.b64encode(hmac.new(OKX_SECRET.encode(), message.encode(), hashlib.sha256).digest()).decode()


def test_okx_timestamp_format() -> None:
    assert okx_timestamp(1607418537715) == "2020-12-08T09:08:57.715Z"
    assert okx_timestamp(1607418537005) == "2020-12-08T09:08:57.005Z"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v5/account/balance?ccy=BTC", ""),
        ("post", "/api/v5/trade/order", '{"instId":"BTC-USDT","tdMode":"cash","side":"buy","ordType":"limit"}'),
    ],
)
def test_okx_rest_recomputed_independently(method: str, path: str, body: str) -> None:
    signed = okx_sign_request(OKX, epoch_ms=1607418537715, method=method, request_path=path, body=body)
    expected = independent_okx(f"2020-12-08T09:08:57.715Z{method.upper()}{path}{body}")
    assert signed.headers["OK-ACCESS-SIGN"] == expected
    assert signed.headers["OK-ACCESS-TIMESTAMP"] == "2020-12-08T09:08:57.715Z"
    assert signed.headers["OK-ACCESS-KEY"] == "okx-test-api-key-0001"
    assert signed.headers["OK-ACCESS-PASSPHRASE"] == "test-passphrase"
    assert "x-simulated-trading" not in signed.headers
    simulated = okx_sign_request(OKX, epoch_ms=1, method="GET", request_path="/api/v5/x", simulated=True)
    assert simulated.headers["x-simulated-trading"] == "1"


def test_okx_ws_login_recomputed_independently() -> None:
    frame = json.loads(okx_ws_login(OKX, 1538054050))
    assert frame == {
        "op": "login",
        "args": [
            {
                "apiKey": "okx-test-api-key-0001",
                "passphrase": "test-passphrase",
                "timestamp": "1538054050",
                "sign": independent_okx("1538054050GET/users/self/verify"),
            }
        ],
    }


def test_okx_needs_a_passphrase_and_a_rooted_path() -> None:
    with pytest.raises(CredentialsError, match="passphrase"):
        okx_sign_request(Credentials("k", OKX_SECRET), epoch_ms=1, method="GET", request_path="/api/v5/x")
    with pytest.raises(SigningError, match="start with '/'"):
        okx_signature(OKX_SECRET, "t", "GET", "api/v5/x")


# == Coinbase: ES256 is randomised, so verify with the public key ============================
def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def es256_verify(token: str, public_key: ec.EllipticCurvePublicKey) -> tuple[dict[str, object], dict[str, object]]:
    header_b64, claims_b64, sig_b64 = token.split(".")
    raw = b64url_decode(sig_b64)
    assert len(raw) == 64  # JWS ES256: fixed-width r||s
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public_key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(b64url_decode(header_b64)), json.loads(b64url_decode(claims_b64))


@pytest.fixture(scope="module")
def cdp_key() -> tuple[Credentials, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()  # "-----BEGIN EC PRIVATE KEY-----", the format CDP hands out
    return Credentials("organizations/org-0001/apiKeys/key-0001", pem), key


def test_coinbase_jwt_verifies_with_the_public_key(cdp_key: tuple[Credentials, ec.EllipticCurvePrivateKey]) -> None:
    creds, key = cdp_key
    token = coinbase_jwt(creds, now_s=1_700_000_000, method="post", path="/api/v3/brokerage/orders")
    header, claims = es256_verify(token, key.public_key())
    assert header["alg"] == "ES256" and header["typ"] == "JWT"
    assert header["kid"] == "organizations/org-0001/apiKeys/key-0001"
    assert isinstance(header["nonce"], str) and int(header["nonce"], 16) >= 0
    assert claims == {
        "sub": "organizations/org-0001/apiKeys/key-0001",
        "iss": "cdp",
        "nbf": 1_700_000_000,
        "exp": 1_700_000_120,
        "uri": "POST api.coinbase.com/api/v3/brokerage/orders",
    }


def test_coinbase_jwt_uri_drops_query_ws_drops_uri_and_nonces_differ(
    cdp_key: tuple[Credentials, ec.EllipticCurvePrivateKey],
) -> None:
    creds, key = cdp_key
    signed = coinbase_sign_request(creds, now_s=1, method="GET", path="/api/v3/brokerage/orders/historical/fills?x=1")
    token = signed.headers["Authorization"].removeprefix("Bearer ")
    assert (
        es256_verify(token, key.public_key())[1]["uri"]
        == "GET api.coinbase.com/api/v3/brokerage/orders/historical/fills"
    )
    assert signed.query == "x=1"
    ws_header, ws_claims = es256_verify(coinbase_jwt(creds, now_s=1), key.public_key())
    assert "uri" not in ws_claims
    assert ws_header["nonce"] != es256_verify(coinbase_jwt(creds, now_s=1), key.public_key())[0]["nonce"]


def test_coinbase_ed25519_key(cdp_key: tuple[Credentials, ec.EllipticCurvePrivateKey]) -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    creds = Credentials("key-id-0001", base64.b64encode(seed + public).decode())
    token = coinbase_jwt(creds, now_s=5, method="GET", path="/api/v3/brokerage/accounts")
    header_b64, claims_b64, sig_b64 = token.split(".")
    key.public_key().verify(b64url_decode(sig_b64), f"{header_b64}.{claims_b64}".encode())
    assert json.loads(b64url_decode(header_b64))["alg"] == "EdDSA"


def test_coinbase_refuses_half_a_request_long_ttl_and_bad_keys() -> None:
    with pytest.raises(SigningError, match="both method and path"):
        coinbase_jwt(Credentials("k", "x"), now_s=1, method="GET")
    with pytest.raises(SigningError, match="lifetime"):
        coinbase_jwt(Credentials("k", "x"), now_s=1, ttl_s=121)
    with pytest.raises(CredentialsError, match="PEM"):
        coinbase_jwt(
            Credentials("k", "-----BEGIN EC PRIVATE KEY-----\nnot a key\n-----END EC PRIVATE KEY-----"), now_s=1
        )
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(CredentialsError, match="P-256"):
        coinbase_jwt(Credentials("k", p384.decode()), now_s=1)


# == tampering: one changed byte changes the signature ======================================
def _coinbase_tamper_check(cdp: tuple[Credentials, ec.EllipticCurvePrivateKey]) -> None:
    creds, key = cdp
    header_b64, claims_b64, sig_b64 = coinbase_jwt(creds, now_s=1, method="POST", path="/api/v3/x").split(".")
    claims = b64url_decode(claims_b64).replace(b"/api/v3/x", b"/api/v3/y")
    forged = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        es256_verify(f"{header_b64}.{forged}.{sig_b64}", key.public_key())


SIGNERS: dict[str, Callable[[str], str]] = {
    "binance": lambda p: binance_signature(BINANCE_SECRET, p),
    "kraken": lambda p: kraken_signature(KRAKEN_SECRET, KRAKEN_PATH, KRAKEN_NONCE, p),
    "bybit": lambda p: bybit_signature(BYBIT_SECRET, 1, "XXXXXXXXXX", 5000, p),
    "okx": lambda p: okx_signature(OKX_SECRET, "2020-12-08T09:08:57.715Z", "POST", "/api/v5/trade/order", p),
}


@pytest.mark.parametrize("venue", sorted(SIGNERS))
def test_one_changed_byte_changes_the_signature(venue: str) -> None:
    sign = SIGNERS[venue]
    payload = BINANCE_PAYLOAD_1
    original = sign(payload)
    for i in (0, len(payload) // 2, len(payload) - 1):
        tampered = payload[:i] + chr(ord(payload[i]) ^ 1) + payload[i + 1 :]
        assert sign(tampered) != original, (venue, i)
    assert sign(payload) == original  # deterministic


def test_tampered_coinbase_jwt_fails_verification(cdp_key: tuple[Credentials, ec.EllipticCurvePrivateKey]) -> None:
    _coinbase_tamper_check(cdp_key)


def test_other_secret_other_signature() -> None:
    assert binance_signature(BINANCE_SECRET[:-1] + "k", BINANCE_PAYLOAD_1) != BINANCE_SIG_1


# == secrets never shown ======================================================================
def assert_no_secret(text: str, *secrets: str) -> None:
    """Grep ``text`` for each secret and for every 8-character piece of it (a partial leak)."""
    for secret in secrets:
        for i in range(max(1, len(secret) - 7)):
            piece = secret[i : i + 8]
            assert piece not in text, f"secret material {piece!r} leaked"


def error_text(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    # The whole printed traceback, chained causes included, as a log would show it.
    return "".join(traceback.format_exception(excinfo.value))


def test_credentials_repr_str_format_hide_secret_and_most_of_the_key() -> None:
    creds = Credentials(BINANCE_KEY, BINANCE_SECRET, passphrase="my-pass-phrase-123")
    logged = "%s %r" % (creds, creds)  # noqa: UP031 -- logging formats with %, so test that
    shown = [repr(creds), str(creds), f"{creds}", f"{creds!r}", logged, repr([creds])]
    for text in shown:
        assert_no_secret(text, BINANCE_SECRET, "my-pass-phrase-123", BINANCE_KEY[:-4])
        assert "Eh8A" in text  # the last 4 of the key, to tell keys apart
    assert not hasattr(creds, "__dict__")


def test_signed_request_repr_shows_no_key_or_secret() -> None:
    signed = binance_sign_request(BINANCE, {"symbol": "LTCBTC"}, timestamp_ms=1)
    okx = okx_sign_request(OKX, epoch_ms=1, method="GET", request_path="/api/v5/x")
    for text in (repr(signed), str(signed), repr(okx)):
        assert_no_secret(text, BINANCE_SECRET, BINANCE_KEY, OKX_SECRET, "okx-test-api-key-0001", "test-passphrase")
    assert "X-MBX-APIKEY" in repr(signed)


def test_errors_carry_no_secret_material(tmp_path: Path) -> None:
    secret = "Zm9vYmFyc2VjcmV0MTIzNDU2Nzg5MGFiY2RlZg"  # base64-looking, padding missing
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"api_key": "k", "secret": "' + secret + '"')  # truncated JSON
    not_utf8 = tmp_path / "latin1.json"
    not_utf8.write_bytes(b'{"secret": "\xff' + secret.encode() + b'"}')
    pem = f"-----BEGIN EC PRIVATE KEY-----\n{secret}\n-----END EC PRIVATE KEY-----"
    cases: list[Callable[[], object]] = [
        lambda: Credentials.from_file(bad_json),
        lambda: Credentials.from_file(not_utf8),
        lambda: kraken_signature(secret + "!", KRAKEN_PATH, 1, "nonce=1"),
        lambda: coinbase_jwt(Credentials("k", pem), now_s=1),
        lambda: coinbase_jwt(Credentials("k", secret + "!"), now_s=1),
        lambda: okx_sign_request(Credentials("k", secret), epoch_ms=1, method="GET", request_path="/x"),
        lambda: binance_sign_request(Credentials("k", secret), {"p": 1.5}, timestamp_ms=1),
    ]
    for case in cases:
        with pytest.raises(SigningError) as excinfo:
            case()
        assert_no_secret(error_text(excinfo), secret)
        # Not even kept out of sight: json's and the codecs' errors hold the input they choked on.
        assert excinfo.value.__context__ is None and excinfo.value.__cause__ is None


def test_env_loading_errors_name_the_variable_not_the_value() -> None:
    env = {"BINANCE_KEY": "key-value-should-not-appear", "EMPTY_SECRET": "  "}
    with pytest.raises(CredentialsError) as excinfo:
        Credentials.from_env(key_var="BINANCE_KEY", secret_var="BINANCE_SECRET", environ=env)
    assert "BINANCE_SECRET" in str(excinfo.value) and "not set" in str(excinfo.value)
    assert_no_secret(error_text(excinfo), "key-value-should-not-appear")
    with pytest.raises(CredentialsError, match="EMPTY_SECRET is empty"):
        Credentials.from_env(key_var="BINANCE_KEY", secret_var="EMPTY_SECRET", environ=env)
    with pytest.raises(CredentialsError, match="OKX_PASSPHRASE is not set"):
        Credentials.from_env("BINANCE_KEY", "BINANCE_KEY", passphrase_var="OKX_PASSPHRASE", environ=env)


def test_env_loading_reads_os_environ_and_unescapes_one_line_pem(
    monkeypatch: pytest.MonkeyPatch, cdp_key: tuple[Credentials, ec.EllipticCurvePrivateKey]
) -> None:
    creds, key = cdp_key
    monkeypatch.setenv("CB_KEY", creds.api_key)
    monkeypatch.setenv("CB_SECRET", creds.secret.strip().replace("\n", "\\n"))  # as Coinbase's docs suggest
    loaded = Credentials.from_env(key_var="CB_KEY", secret_var="CB_SECRET")
    es256_verify(coinbase_jwt(loaded, now_s=1), key.public_key())


def test_file_loading_formats_and_errors(tmp_path: Path) -> None:
    plain = tmp_path / "okx.json"
    plain.write_text(json.dumps({"api_key": "okx-key", "secret": OKX_SECRET, "passphrase": "pp"}))
    assert Credentials.from_file(plain) == Credentials("okx-key", OKX_SECRET, "pp")
    cdp = tmp_path / "cdp_api_key.json"
    cdp.write_text(json.dumps({"name": "organizations/o/apiKeys/k", "privateKey": "-----BEGIN X-----\\nabc"}))
    assert Credentials.from_file(cdp) == Credentials("organizations/o/apiKeys/k", "-----BEGIN X-----\nabc")

    missing = tmp_path / "missing.json"
    with pytest.raises(CredentialsError, match=r"missing\.json cannot be read"):
        Credentials.from_file(missing)
    no_secret = tmp_path / "nosecret.json"
    no_secret.write_text(json.dumps({"api_key": "k"}))
    with pytest.raises(CredentialsError, match="no 'secret' or 'privateKey' field"):
        Credentials.from_file(no_secret)
    not_object = tmp_path / "list.json"
    not_object.write_text("[]")
    with pytest.raises(CredentialsError, match="JSON object"):
        Credentials.from_file(not_object)
    with pytest.raises(CredentialsError, match="API secret is empty"):
        Credentials("k", "")
