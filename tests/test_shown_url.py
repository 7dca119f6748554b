"""URLs in logs and errors: host and path, never a user, password, query value or a key the
caller put in the path (arbcore.venues.shown_url)."""

from __future__ import annotations

from arbcore.venues.shown_url import shown_url


def test_user_password_and_query_values_are_hidden() -> None:
    assert shown_url("wss://alice:s3cret@stream.example.com:9443/ws?token=abc&x=") == (
        "wss://***@stream.example.com:9443/ws?token=***&x=***"
    )
    assert shown_url("ws://127.0.0.1:8765/ws/v5/public") == "ws://127.0.0.1:8765/ws/v5/public"
    assert shown_url("wss://[::1]:9000/ws") == "wss://[::1]:9000/ws"


def test_a_key_in_the_path_is_hidden() -> None:
    assert shown_url(
        "wss://fstream.binance.com/ws/pqia91ma19a5s61cv6a81va65sdf19v8", ["pqia91ma19a5s61cv6a81va65sdf19v8"]
    ) == ("wss://fstream.binance.com/ws/***")
    assert shown_url("wss://h/ws/k", [""]) == "wss://h/ws/k"  # an empty key hides nothing


def test_what_is_not_a_url_is_not_shown() -> None:
    assert shown_url("ws://host:notaport/x") == "***"


def test_a_query_part_without_a_value_is_hidden_whole() -> None:
    """A token given as the whole query part (``?<token>``, no ``=``) was shown as its key:
    ``?tok3n=***``, the token in the clear."""
    assert shown_url("wss://h/ws?tok3n") == "wss://h/ws?***"
    assert shown_url("wss://h/ws?a=1&tok3n&b") == "wss://h/ws?a=***&***&***"
    assert shown_url("wss://h/ws?x=") == "wss://h/ws?x=***"
