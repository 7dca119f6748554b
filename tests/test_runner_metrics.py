"""Prometheus metrics over loopback: text format, histograms, scrape over HTTP, port in use."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest

from arbcore.feed_client import LatencyHistogram
from arbcore.runner.metrics import (
    MetricsPortError,
    Registry,
    engine_metrics,
    port_problem,
    start_metrics_server,
)


def test_text_format() -> None:
    reg = Registry()
    m = engine_metrics(reg)
    m.frames.inc(venue="binance")
    m.frames.inc(3, venue="okx")
    m.order_latency.observe(0.0003, venue="okx")
    m.order_latency.observe(0.02, venue="okx")
    m.order_latency.observe(99, venue="okx")
    m.open_tickets.set(2)
    text = reg.render()
    assert "# TYPE arbcore_frames_total counter" in text
    assert 'arbcore_frames_total{venue="okx"} 3' in text
    assert 'arbcore_order_ack_seconds_bucket{venue="okx",le="0.0005"} 1' in text
    assert 'arbcore_order_ack_seconds_bucket{venue="okx",le="0.025"} 2' in text
    assert 'arbcore_order_ack_seconds_bucket{venue="okx",le="+Inf"} 3' in text
    assert 'arbcore_order_ack_seconds_count{venue="okx"} 3' in text
    assert "arbcore_open_tickets 2" in text
    with pytest.raises(ValueError, match="labels"):
        m.frames.inc()
    with pytest.raises(ValueError, match="only goes up"):
        m.frames.inc(-1, venue="x")


def test_scrape_over_loopback_and_port_in_use() -> None:
    async def main() -> None:
        reg = Registry()
        c = reg.counter("arbcore_test_total", "test", ("venue",))
        collected = []
        reg.on_collect(lambda: collected.append(1))
        c.inc(venue='we"ird')
        server = await start_metrics_server(reg, 0)
        try:
            assert server.host == "127.0.0.1" and server.port > 0
            async with aiohttp.ClientSession() as s, s.get(server.url) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                body = await r.text()
            assert 'arbcore_test_total{venue="we\\"ird"} 1' in body and collected == [1]
            with pytest.raises(MetricsPortError) as ei:
                await start_metrics_server(reg, server.port)
            assert (
                str(ei.value) == f"--metrics-port {server.port}: cannot listen on 127.0.0.1:{server.port}: port in use"
            )
        finally:
            await server.stop()

    asyncio.run(main())


def test_port_held_by_another_socket() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]

    async def main() -> None:
        with pytest.raises(MetricsPortError, match="port in use"):
            await start_metrics_server(Registry(), port)

    try:
        asyncio.run(main())
    finally:
        sock.close()


def test_feed_latency_is_the_feed_clients_histogram_copied() -> None:
    """Each feed bucket lands under the bound that holds it; no _sum (the feed keeps none)."""
    feed = LatencyHistogram()
    for ns in (0, 800_000, 1_023_999, 1_024_000, 5 * 10**18):
        feed.add(ns)
    reg = Registry()
    m = engine_metrics(reg)
    m.feed_latency.set_counts(feed.buckets, venue="okx")
    text = reg.render()
    assert 'arbcore_feed_latency_seconds_bucket{venue="okx",le="1e-06"} 1' in text
    assert 'arbcore_feed_latency_seconds_bucket{venue="okx",le="0.000512"} 1' in text
    assert 'arbcore_feed_latency_seconds_bucket{venue="okx",le="0.001024"} 3' in text
    assert 'arbcore_feed_latency_seconds_bucket{venue="okx",le="0.002048"} 4' in text
    assert 'arbcore_feed_latency_seconds_bucket{venue="okx",le="+Inf"} 5' in text
    assert 'arbcore_feed_latency_seconds_count{venue="okx"} 5' in text
    assert "arbcore_feed_latency_seconds_sum" not in text
    with pytest.raises(TypeError):
        m.feed_latency.observe(0.001, venue="okx")
    with pytest.raises(ValueError, match="counts"):
        m.feed_latency.set_counts([1, 2], venue="okx")


def test_help_text_is_escaped() -> None:
    """A backslash or a line feed in a HELP text would end the line early: the text format escapes them."""
    reg = Registry()
    reg.counter("arbcore_test_total", "C:\\path\nsecond line")
    assert reg.render().splitlines()[0] == "# HELP arbcore_test_total C:\\\\path\\nsecond line"


def test_restart_on_the_port_a_scraper_kept_alive() -> None:
    """Prometheus keeps its connection open between scrapes; at exit the server closes it first,
    which leaves the port in TIME_WAIT. The next run binds it at once: not 'port in use'."""

    async def main() -> None:
        reg = Registry()
        server = await start_metrics_server(reg, 0)
        port = server.port
        async with aiohttp.ClientSession() as s:
            async with s.get(server.url) as r:
                assert r.status == 200
                await r.read()
            await server.stop()  # while the client's connection is kept alive: the server closes first
            assert port_problem(port) is None
            again = await start_metrics_server(reg, port)
            await again.stop()

    asyncio.run(main())


def test_stop_does_not_wait_for_a_scraper_that_never_reads() -> None:
    """A client that sends requests and never reads their responses holds a handler waiting to
    write: the server's stop (and so `arbcore run`'s exit and its report) does not wait for it."""

    async def main() -> float:
        reg = Registry()
        reg.counter("arbcore_test_total", "padding " + "x" * 4000, ("venue",)).inc(venue="binance")
        server = await start_metrics_server(reg, 0)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", server.port))
        await loop.sock_sendall(sock, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 2000)
        await asyncio.sleep(0.5)  # the server writes until the socket's buffers are full
        t0 = time.monotonic()
        try:
            await asyncio.wait_for(server.stop(), 30)
        finally:
            sock.close()
        return time.monotonic() - t0

    assert asyncio.run(main()) < 5


def test_head_and_other_paths() -> None:
    """HEAD answers as GET without the body (Prometheus' probes, curl -I); any other path is a 404."""

    async def main() -> None:
        reg = Registry()
        reg.counter("arbcore_test_total", "test").inc()
        server = await start_metrics_server(reg, 0)
        try:
            async with aiohttp.ClientSession() as s:
                async with s.head(server.url) as r:
                    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                    assert await r.read() == b""
                async with s.get(server.url.replace("/metrics", "/other")) as r:
                    assert r.status == 404
        finally:
            await server.stop()

    asyncio.run(main())
