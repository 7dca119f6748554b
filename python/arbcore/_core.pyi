"""Type stubs for the Rust extension ``arbcore._core``."""

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

BID: int
ASK: int
SYNCING: int
LIVE: int
STALE: int
BROKEN: int
MAX_VENUES: int
FEE_SCALE: int
MAX_DECIMALS: int

_Level = tuple[int, int]
_Top = tuple[_Level | None, _Level | None]
_Venue = int | str
_Num = int | str

def parse_decimal(s: str, decimals: int) -> int: ...
def format_decimal(value: int, decimals: int) -> str: ...
def opportunity_fields() -> list[tuple[str, str]]: ...
def synthetic_stream(seed: int, depth: int, n: int) -> dict[str, npt.NDArray[np.uint64] | npt.NDArray[np.uint8]]: ...

class ConsolidatedBook:
    def __init__(self, instrument: str, price_decimals: int, qty_decimals: int, instrument_id: int = 0) -> None: ...
    @property
    def instrument(self) -> str: ...
    @property
    def base(self) -> str: ...
    @property
    def quote(self) -> str: ...
    @property
    def instrument_id(self) -> int: ...
    @property
    def price_decimals(self) -> int: ...
    @property
    def qty_decimals(self) -> int: ...
    @property
    def notional_decimals(self) -> int: ...
    @property
    def venues(self) -> list[str]: ...
    def add_venue(
        self,
        name: str,
        *,
        symbol: str,
        tick_size: str,
        lot_size: str,
        min_qty: str = "0",
        min_notional: str = "0",
        taker_fee: str = "0",
        maker_fee: str = "0",
    ) -> int: ...
    def venue_index(self, name: _Venue) -> int: ...
    def venue_spec(self, venue: _Venue) -> dict[str, str]: ...
    def set_balance(self, venue: _Venue, asset: str, amount: str) -> None: ...
    def balance(self, venue: _Venue, asset: str) -> str: ...
    def set_max_notional(self, amount: str | None) -> None: ...
    def set_min_edge_bps(self, bps: str) -> None: ...
    def apply_snapshot(
        self,
        venue: _Venue,
        bids: Iterable[tuple[_Num, _Num]],
        asks: Iterable[tuple[_Num, _Num]],
        seq: int = 0,
        venue_ts: int = 0,
        recv_ts: int = 0,
    ) -> bool: ...
    def apply_delta(
        self,
        venue: _Venue,
        side: int,
        price: _Num,
        qty: _Num,
        seq: int | None = None,
        venue_ts: int | None = None,
        recv_ts: int | None = None,
    ) -> bool: ...
    def apply_deltas(
        self,
        venue: _Venue,
        sides: npt.NDArray[np.uint8],
        prices: npt.NDArray[np.uint64] | npt.NDArray[np.int64],
        qtys: npt.NDArray[np.uint64] | npt.NDArray[np.int64],
        seq: int | None = None,
        venue_ts: int | None = None,
        recv_ts: int | None = None,
    ) -> bool: ...
    def clear(self, venue: _Venue) -> None: ...
    def state(self, venue: _Venue) -> int: ...
    def state_name(self, venue: _Venue) -> str: ...
    def set_state(self, venue: _Venue, state: int) -> None: ...
    def check_stale(self, now_ns: int, max_age_ns: int, venue: _Venue | None = None) -> list[int]: ...
    def seq(self, venue: _Venue) -> int: ...
    def timestamps(self, venue: _Venue) -> tuple[int, int]: ...
    def best_bid(self, venue: _Venue) -> _Level | None: ...
    def best_ask(self, venue: _Venue) -> _Level | None: ...
    def last_change(self, venue: _Venue) -> tuple[_Top, _Top]: ...
    def depth(self, venue: _Venue, side: int, n: int) -> npt.NDArray[np.uint64]: ...
    def cumulative_qty(self, venue: _Venue, side: int, limit_price: _Num) -> int: ...
    def consolidated_bid(self, net: bool = False) -> tuple[int, int, int] | None: ...
    def consolidated_ask(self, net: bool = False) -> tuple[int, int, int] | None: ...
    def merged_depth(self, side: int, n: int) -> npt.NDArray[np.uint64]: ...
    def refresh(self) -> int: ...
    def opportunities(self) -> npt.NDArray[np.void]: ...
    def detect(self) -> npt.NDArray[np.void]: ...
    def parse_price(self, s: str) -> int: ...
    def parse_qty(self, s: str) -> int: ...
    def format_price(self, raw: int) -> str: ...
    def format_qty(self, raw: int) -> str: ...
    def format_notional(self, raw: int) -> str: ...
    def stats(self) -> dict[str, int]: ...
    def heap_bytes(self) -> int: ...
    def __len__(self) -> int: ...

FRAME_CONTROL: int
FRAME_APPLIED: int
FRAME_APPLIED_TOP: int
FRAME_SYNCED: int
FRAME_TRADES: int
FRAME_BUFFERED: int
FRAME_IGNORED: int
FRAME_RESYNC: int
FRAME_ERROR: int

#: ``OrderPath.take``'s ticket: (ticket id, record, buy frame, sell frame, buy rid, sell rid, buy
#: market, sell market, qty, buy limit, sell limit, (reason, opportunities, records looked at,
#: decision start ns, written: when both frames left (ns) if the path wrote them itself
#: (``arm_wire``), 0 if not, -1 for a dry run's checks and dry store done there))
TakenTicket = tuple[str, bytes, bytes, bytes, str, str, int, int, int, int, int, tuple[str, int, int, int, int]]

class Feed:
    """One venue connection's decoder; frames go in as bytes, one call each."""

    def __init__(
        self,
        protocol: str,
        books: list[ConsolidatedBook],
        symbols: dict[str, tuple[int, int]],
        precisions: dict[str, tuple[int, int]] | None = None,
        depth: int = 10,
    ) -> None: ...
    @property
    def venue(self) -> str: ...
    def on_frame(self, frame: bytes, recv_ts: int) -> int: ...
    def on_frame_take(self, frame: bytes, recv_ts: int, last_in_buffer: int) -> TakenTicket | int:
        """``on_frame``; at a read's end, the attached order path's open takers on the books whose
        top changed: a ticket one started (``OrderPath.take``'s tuple) instead of the code."""
    def attach_taker(self, path: OrderPath, armed: list[int | None], prefix: str) -> None:
        """The armed taker per instrument index of this feed's books, for ``on_frame_take``."""
    @property
    def last_code(self) -> int: ...
    def on_snapshot(self, instrument: int, venue: int, body: bytes, recv_ts: int) -> int: ...
    def reset(self, instrument: int, venue: int) -> None: ...
    def reset_connection(self) -> None: ...
    def replay(self, live: Feed, frame: bytes) -> int:
        """A scratch feed's warm-up: ``live``'s books copied over this feed's, ``frame`` decoded
        as the next update (OKX applies it; the others only parse it), sequences forgotten."""
    def follow(self, live: Feed | None) -> None:
        """Make this a scratch feed of ``live`` (None: no longer): ``on_frame_take`` then replays
        each frame as :meth:`replay` does and never takes. ConfigError for itself or a feed with
        another number of books."""
    def last_book(self) -> tuple[int, int] | None: ...
    def last_reason(self) -> str: ...
    def last_error(self) -> str | None: ...
    def counters(self) -> dict[str, int]: ...

class OrderPath:
    """Validation, risk, funds, both signed frames and the intent record of a two-leg ticket in
    one call (``arbcore.execution.fast_path``). The ``set_*`` methods mirror Python state in."""

    def __init__(self) -> None: ...
    def add_asset(self, name: str, decimals: int) -> int: ...
    def add_venue(self, name: str) -> int: ...
    def set_binance(
        self, venue: int, *, futures: bool, api_key: str, secret: str, recv_window: int | None, prefix: str
    ) -> None: ...
    def set_okx(self, venue: int, *, td_mode: str, prefix: str) -> None: ...
    def encodes(self, venue: int) -> bool: ...
    def add_market(
        self,
        venue: int,
        book_venue: int,
        *,
        symbol: str,
        instrument: str,
        base: int,
        quote: int,
        price_decimals: int,
        qty_decimals: int,
        tick: int,
        lot: int,
        min_qty: int,
        max_qty: int,
        min_notional: int,
        taker_fee: int,
    ) -> int: ...
    def set_limits(
        self, max_order_notional: int, max_ticket_notional: int, max_open_tickets: int, max_book_age_ns: int
    ) -> None: ...
    def set_position_limits(self, asset: int, per_venue: int | None, net: int | None) -> None: ...
    def set_available(self, venue: int, asset: int, amount: int) -> None: ...
    def available(self, venue: int, asset: int) -> int: ...
    def set_position(self, venue: int, asset: int, qty: int) -> None: ...
    def set_open_tickets(self, n: int) -> None: ...
    def set_halted(self, halted: bool) -> None: ...
    def set_kill_file(self, path: str | None = None) -> None: ...
    def open_breaker(self, venue: int, seconds: float) -> None: ...
    def check(self, book: ConsolidatedBook, buy: int, sell: int, qty: int, buy_limit: int, sell_limit: int) -> str: ...
    def encode(
        self, market: int, buy: bool, qty: int, price: int, client_order_id: str, now_ms: int
    ) -> tuple[str, bytes]: ...
    def prepare(
        self,
        ticket_id: str,
        book: ConsolidatedBook,
        buy: int,
        sell: int,
        qty: int,
        buy_limit: int,
        sell_limit: int,
        reason: str,
    ) -> tuple[bytes, bytes, bytes, str, str] | None:
        """(intent record framed for the intent log: u32 length, u32 CRC-32, payload; buy frame,
        sell frame, buy request id, sell request id), or None (the Python path decides)."""
    def set_secrets(self, secrets: list[bytes]) -> None:
        """The journal's registered secrets: a record holding one is never built here."""
    def arm_taker(self, markets: list[int | None], *, min_edge_bps: float, cap: int | None, lots: list[int]) -> int:
        """The built-in taker on one instrument: its market per book venue, its params; the index."""
    def take(self, armed: int, prefix: str, book: ConsolidatedBook, dry: bool = False) -> TakenTicket | int:
        """Decide and start a ticket after a read: (ticket id, record, buy frame, sell frame,
        buy rid, sell rid, buy market, sell market, qty, buy limit, sell limit, (reason,
        opportunities, records looked at, decision start on perf_counter_ns's clock, written));
        else the opportunity count, or -1 (Python decides). When both markets are armed
        (``arm_wire``) and their arms hold, the record is stored and both frames written here;
        ``written`` says when (see ``TakenTicket``).
        ``dry``: the same work with no effect (made up when there is no opportunity), always the
        tuple (-1 only with fewer than two markets on the path): keeps this very call warm."""
    def set_taker_open(self, armed: int, open: bool) -> None:
        """Whether a feed may start ``armed``'s tickets itself (``Feed.on_frame_take``)."""
    def set_wire_store(self, store: LogTail, text: object) -> None:
        """Where ``take``'s own writes store the record first (``IntentLog.tail``) and
        the frame type they write (picows ``WSMsgType.TEXT``)."""
    def arm_wire(self, market: int, transport: object, limiter: object | None, version: int) -> None:
        """Let ``take`` write ``market``'s leg on ``transport`` (a picows ``WSTransport``) while it
        stays connected and ``limiter`` (a ``RateLimiter``; None: none) stays at ``version``; until
        a write or ``disarm_wire``. Two legs sharing a limiter are never written here."""
    def disarm_wire(self, market: int | None = None) -> None:
        """``market`` (None: every market) no longer written by ``take`` until armed again."""
    def stale_wires(self) -> list[int]:
        """The markets whose arm is missing or no longer holds."""

class LogTail:
    """The intent log's stores into its file mapping and the next record's offset (see
    ``rust/python/log_tail.rs``); ``IntentLog`` owns the file, the order path stores through it."""

    def __init__(self, map: object, used: int, dirty: int, fsync: bool) -> None: ...
    def append(self, payload: bytes) -> int:
        """Frame and store ``payload``: 1 stored, 0 no room, -1 larger than the whole log."""
    def append_framed(self, record: bytes, dry: bool = False) -> int:
        """Store a framed record (as ``append``); ``dry``: zeros where it would go (-2: a torn
        store's bytes lie past the end, nothing stored)."""
    def clear(self) -> None: ...
    @property
    def used(self) -> int: ...
    @property
    def dirty(self) -> int: ...

def next_ticket_seq() -> int:
    """The run's next ticket sequence number (shared by the Python and the Rust order paths)."""
