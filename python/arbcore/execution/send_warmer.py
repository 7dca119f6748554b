"""``[run] warm_sends``: with each dry run of the order path, one frame written on a private
WebSocket connection to this process itself, over loopback.

Why: the dry run (``[run] keep_warm_ms``) keeps the decision warm up to the socket writes, which
it cannot make. So the first leg's write after a quiet spell ran its path cold: picows' framing
and masking, the ``send()`` system call and the kernel's TCP send path. In a profiled run of the
e2e bench's rounds (busy_poll, awake simulators, 200 rounds) the first leg's ``send()`` took
16.4 µs p50 and the second 7.9 µs. With an order-sized frame written here at every dry run,
the first took 9.1 µs. On loopback the kernel's work for a write includes the receiver's TCP input, so
this keeps that part warm too. A venue across a network card shares the TCP layer but not the
device path, so expect less there. The cost is a ~450-byte write and its read, both in this
loop, at every dry run. Nothing goes to any venue.

The far end is read in the loop on purpose: its read is a book frame's, up to the listener (the
poll event, uvloop's read, picows' parsing). With a plain socket there instead, never polled and
emptied by ``recv_into`` every 32 frames, the book frame's segment to its frame callback went
from 27.0 to 47.5 and 40.4 µs p50 in profiled e2e rounds (100 rounds each, same session).
"""

from __future__ import annotations

import logging
from typing import Any

from picows import WSListener, WSMsgType, WSTransport, ws_connect, ws_create_server

log = logging.getLogger(__name__)

#: about the size of a signed order frame: the same framing, masking and copy work
FRAME = b'{"id":"warm","method":"order.place","params":{}}'.ljust(450)


class _Drop(WSListener):
    """Both ends: frames are read and dropped."""

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.disconnect()


class SendWarmer:
    """A loopback WebSocket server and a client connected to it, in the caller's loop."""

    def __init__(self) -> None:
        self._server: Any = None
        self._client: WSTransport | None = None
        self.sent = 0

    async def start(self) -> None:
        self._server = await ws_create_server(lambda _: _Drop(), "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self._client, _ = await ws_connect(_Drop, f"ws://127.0.0.1:{port}/")

    def send(self) -> None:
        """One frame out, as a leg's write does; nothing if the connection is gone."""
        client = self._client
        if client is None or client.is_disconnected:
            return
        client.send(WSMsgType.TEXT, FRAME)
        self.sent += 1

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client = None
        if self._server is not None:
            self._server.close()
            self._server = None
