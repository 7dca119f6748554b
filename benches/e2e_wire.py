"""Kernel stamps for the e2e latency bench: when a TCP segment reached its receiver's stack on
the loopback device, read from a packet socket (AF_PACKET, ``SO_TIMESTAMPNS``).

Why: a simulator stamps an order when its Python frame callback starts. Both simulators share
one core on the 2-core host, so that stamp also counts the other simulator's pass, its own
cold code and the scheduler (measured: the second order's stamp came 45-65 µs after its
segment). A venue on its own host has its own core; what it can charge the engine for ends
when the bytes reach it. The segment's stamp is that moment, for the book frame leaving the
simulator as for each order frame reaching one, and for the echo floor's two frames, so the
engine's figure and its floor are stamped alike.

A classic BPF filter keeps only segments to or from the named ports (the rest of the host's
loopback traffic, e.g. the engine's warm sends, is never copied), and only the receiving side's
copy (loopback shows each segment twice). Needs CAP_NET_RAW: :meth:`WireTap.open` returns None
without it, and the bench then reports its callback stamps alone.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import socket
import struct
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35  # also the control message's type (SCM_TIMESTAMPNS)
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
PACKET_STATISTICS = 6
SNAP = 96  # enough for the Ethernet, IPv4 and TCP headers with options


@dataclass(frozen=True)
class Segment:
    ns: int  # kernel receive stamp, on time.perf_counter_ns's clock (CLOCK_MONOTONIC)
    src: int  # TCP ports
    dst: int
    payload: int  # bytes of TCP payload (0: a bare ACK)


def _port_filter(ports: Iterable[int]) -> bytes:
    """A classic BPF program: IPv4 TCP segments whose source or destination port is in ``ports``."""
    ports = sorted(set(ports))
    n = len(ports)
    ins: list[tuple[int, int, int, int]] = [
        (0x28, 0, 0, 12),  # ldh [12]: the EtherType
        (0x15, 0, 2 * n + 5, 0x0800),  # IPv4, else drop
        (0x30, 0, 0, 23),  # ldb [23]: the IP protocol
        (0x15, 0, 2 * n + 3, 6),  # TCP, else drop
        (0xB1, 0, 0, 14),  # ldxb 4*([14]&0xf): the IP header's length
        (0x48, 0, 0, 14),  # ldh [x+14]: the source port
    ]
    for i, p in enumerate(ports):
        ins.append((0x15, 2 * n + 1 - i, 0, p))  # jeq: accept
    ins.append((0x48, 0, 0, 16))  # ldh [x+16]: the destination port
    for i, p in enumerate(ports):
        ins.append((0x15, n - i, 0, p))
    ins += [(0x06, 0, 0, 0), (0x06, 0, 0, SNAP)]  # drop; accept SNAP bytes
    return b"".join(struct.pack("HBBI", *i) for i in ins)


class WireTap:
    """Segments to or from ``ports`` on the loopback device, with their kernel stamps."""

    def __init__(self, sock: socket.socket, prog: ctypes.Array[ctypes.c_char]) -> None:
        self.sock = sock
        self._prog = prog  # the filter's memory stays alive with the socket
        self.lost = 0  # segments seen without a stamp (never expected)
        self.dropped = 0  # segments the kernel dropped (the socket's buffer full), all drains

    @classmethod
    def open(cls, ports: Iterable[int]) -> WireTap | None:
        """None where packet sockets are not allowed (no CAP_NET_RAW) or not there (not Linux)."""
        if not hasattr(socket, "AF_PACKET"):
            return None
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError:
            return None
        try:
            code = _port_filter(ports)
            prog = ctypes.create_string_buffer(code, len(code))
            fprog = struct.pack("HL", len(code) // 8, ctypes.addressof(prog))  # struct sock_fprog
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            sock.bind(("lo", 0))  # after the filter: nothing unfiltered is queued
            sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return cls(sock, prog)

    @classmethod
    def possible(cls) -> bool:
        """Whether :meth:`open` can open a packet socket here."""
        tap = cls.open(())
        if tap is not None:
            tap.close()
        return tap is not None

    def drain(self) -> list[Segment] | None:
        """The segments captured since the last drain, in order; None when the kernel dropped some
        meanwhile (a match among the rest could pick the wrong one). Drain after each round: the
        socket's buffer is capped by ``net.core.rmem_max``."""
        off = _mono_offset()
        out: list[Segment] = []
        while True:
            try:
                data, anc, _, _ = self.sock.recvmsg(SNAP, 64)
            except BlockingIOError:
                # the counters reset on each read: these drops happened since the last drain
                dropped = struct.unpack("II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))[1]
                self.dropped += dropped
                return None if dropped else out
            ns = next((_timespec(d) for lvl, typ, d in anc if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS), None)
            if ns is None or len(data) < 34:
                self.lost += 1
                continue
            ihl = (data[14] & 0x0F) * 4
            total = struct.unpack_from("!H", data, 16)[0]
            src, dst = struct.unpack_from("!HH", data, 14 + ihl)
            doff = (data[14 + ihl + 12] >> 4) * 4
            out.append(Segment(ns - off, src, dst, total - ihl - doff))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _timespec(d: bytes) -> int:
    sec, nsec = struct.unpack_from("qq", d)
    return int(sec) * 1_000_000_000 + int(nsec)


def _mono_offset() -> int:
    """CLOCK_REALTIME (the stamps' clock) minus CLOCK_MONOTONIC, from the tightest of a few reads."""
    best = None
    for _ in range(5):
        a = time.perf_counter_ns()
        r = time.time_ns()
        b = time.perf_counter_ns()
        if best is None or b - a < best[0]:
            best = (b - a, r - (a + b) // 2)
    assert best is not None
    return best[1]


Ports = Collection[int]


def first_after(segs: list[Segment], ns: int, *, src: Ports = (), dst: Ports = ()) -> Segment | None:
    """The first segment with a payload at or after ``ns``, from one of the ports ``src`` / to one
    of ``dst`` (empty: any)."""
    i = bisect.bisect_left([s.ns for s in segs], ns)
    return next((s for s in segs[i:] if _matches(s, src, dst)), None)


def last_before(segs: list[Segment], ns: int, *, src: Ports = (), dst: Ports = ()) -> Segment | None:
    """The last segment with a payload at or before ``ns``, from ``src`` / to ``dst`` (as above)."""
    i = bisect.bisect_right([s.ns for s in segs], ns)
    return next((s for s in reversed(segs[:i]) if _matches(s, src, dst)), None)


def _matches(s: Segment, src: Ports, dst: Ports) -> bool:
    return s.payload > 0 and (not src or s.src in src) and (not dst or s.dst in dst)
