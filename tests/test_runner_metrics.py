"""Prometheus metrics over loopback: text format, histograms, scrape over HTTP, port in use."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from arbcore.feed_client import LatencyHistogram
from arbcore.runner.metrics import MetricsPortError, Registry, engine_metrics, start_metrics_server


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
