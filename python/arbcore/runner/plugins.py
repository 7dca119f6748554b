"""Strategy plug-ins: the base class, what its hooks receive and return, the loader, and the host
that contains a failing plug-in.

A plug-in is a subclass of :class:`Strategy` in a Python file (``arbcore run --strategy
path/to/file.py[:Class]``) or a builtin (``taker``, ``threshold``, ``hedger``). The engine calls
its hooks on the event loop, so a hook must return quickly and never block::

    from arbcore.runner.plugins import Opportunity, Strategy, TicketProposal

    class MyTaker(Strategy):
        def on_opportunity(self, opp: Opportunity) -> list[TicketProposal] | None:
            if opp.edge_bps < float(self.params.get("min_edge_bps", "3")):
                return None
            return [TicketProposal.from_opportunity(opp, reason="mine")]

Every hook may return ticket proposals (or None). A proposal is a request: the engine's risk
checks may still refuse it. Prices and quantities are raw integers at the instrument's scales
(``self.context.instrument(name).price_decimals`` / ``qty_decimals``).

A plug-in that raises (or returns something that is not a list of valid proposals) is reported
once (a log line naming the plug-in and the exception), marked stopped, and never called again.
That holds for anything it raises but KeyboardInterrupt: a SystemExit or CancelledError out of
a hook is the plug-in's failure, not a request to stop the engine or a task. The engine reads
:attr:`StrategyHost.stopped` / :attr:`StrategyHost.error`, cancels the plug-in's open orders
and keeps running.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

import arbcore
from arbcore.runner.config import BUILTIN_STRATEGIES, Config, InstrumentConfig
from arbcore.runner.opportunity import Opportunity

log = logging.getLogger("arbcore.strategy")

#: builtin name -> (module, class)
BUILTINS: dict[str, tuple[str, str]] = {
    "taker": ("arbcore.runner.strategies.taker", "TakerStrategy"),
    "threshold": ("arbcore.runner.strategies.threshold", "ThresholdStrategy"),
    "hedger": ("arbcore.runner.strategies.hedger", "HedgerStrategy"),
}
assert set(BUILTINS) == set(BUILTIN_STRATEGIES)


class StrategyLoadError(Exception):
    """A plug-in that could not be loaded; the message is one line naming the file or class and why."""


# ---- what hooks receive and return ---------------------------------------------------------


@dataclass(frozen=True)
class TicketProposal:
    """A ticket a strategy asks the engine to execute: buy ``qty`` on ``buy_venue`` at no more than
    ``buy_limit`` and sell it on ``sell_venue`` at no less than ``sell_limit`` (raw integers).

    A one-legged proposal (a hedge) leaves the other venue and its limit None.
    """

    instrument: str
    buy_venue: str | None
    sell_venue: str | None
    qty: int
    buy_limit: int | None
    sell_limit: int | None
    reason: str = ""
    #: the opportunity it came from, when it did (its prices are the ticket's expected prices)
    opportunity: Opportunity | None = None

    @classmethod
    def from_opportunity(cls, opp: Opportunity, *, qty: int | None = None, reason: str = "") -> TicketProposal:
        if cls is not TicketProposal:  # a subclass may have its own __init__ / __post_init__
            return cls(
                opp.instrument, opp.buy_venue, opp.sell_venue, opp.qty if qty is None else qty,
                opp.buy_limit, opp.sell_limit, reason, opp,
            )  # fmt: skip
        # the same instance the dataclass __init__ makes, without one object.__setattr__ per field
        p = object.__new__(TicketProposal)
        p.__dict__.update(
            instrument=opp.instrument, buy_venue=opp.buy_venue, sell_venue=opp.sell_venue,
            qty=opp.qty if qty is None else qty, buy_limit=opp.buy_limit, sell_limit=opp.sell_limit,
            reason=reason, opportunity=opp,
        )  # fmt: skip
        return p

    @property
    def is_hedge(self) -> bool:
        return self.buy_venue is None or self.sell_venue is None

    def problem(self, config: Config) -> str | None:  # noqa: PLR0911
        """Why this proposal is malformed (unknown names, non-positive numbers), or None."""
        try:
            inst = config.instrument(self.instrument)
        except KeyError:
            return f"unknown instrument {self.instrument!r}"
        if self.buy_venue is None and self.sell_venue is None:
            return "neither a buy nor a sell venue"
        for side, venue, limit in (("buy", self.buy_venue, self.buy_limit), ("sell", self.sell_venue, self.sell_limit)):
            if venue is None:
                if limit is not None:
                    return f"{side}_limit without a {side}_venue"
                continue
            if not isinstance(venue, str) or venue not in inst.venues:  # (a list is unhashable: no lookup)
                return f"{side}_venue {venue!r} does not list {self.instrument}"
            if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
                return f"{side}_limit {limit!r} is not a positive raw integer price"
        if self.buy_venue is not None and self.buy_venue == self.sell_venue:
            return f"buy and sell venue are both {self.buy_venue!r}"
        if not isinstance(self.qty, int) or isinstance(self.qty, bool) or self.qty <= 0:
            return f"qty {self.qty!r} is not a positive raw integer quantity"
        return None


@dataclass(frozen=True)
class FillEvent:
    """A fill of one of the engine's orders. Raw integers at the instrument's scales; ``fee`` at
    ``fee_decimals`` of ``fee_asset``."""

    ticket_id: str
    client_order_id: str
    venue: str
    instrument: str
    side: str  # "buy" or "sell"
    qty: int
    price: int
    fee: int = 0
    fee_asset: str = ""
    fee_decimals: int = 0
    ts_ns: int = 0


@dataclass(frozen=True)
class TicketOutcome:
    """How a ticket of the strategy's ended (:meth:`Strategy.on_ticket`). ``status``: ``refused``
    (nothing was sent: ``reasons`` says why, e.g. a risk limit, funds, a venue's rules or rate
    limit), ``done``, ``missed``, ``hedged``, ``unwound`` or ``residual``. ``bought``, ``sold`` and
    ``residual`` (bought - sold after any hedge or unwind) are raw at the instrument's quantity
    decimals; ``reason`` is the proposal's."""

    ticket_id: str
    instrument: str
    status: str
    reasons: tuple[str, ...] = ()
    bought: int = 0
    sold: int = 0
    residual: int = 0
    reason: str = ""


# ---- the context a strategy reads ----------------------------------------------------------


class StrategyContext:
    """What a strategy may read: its params, the config, balances and positions, books.

    The engine keeps it current with the ``set_*`` / ``attach_books`` methods (engine side only;
    a strategy reads through the accessors, which return copies or read-only views).
    Balances and positions are integers at each asset's decimals (``config.assets``); a position
    is the signed change of a venue's balance of an asset since the start of the run.
    """

    def __init__(self, config: Config, params: Mapping[str, Any] | None = None) -> None:
        self._config = config
        self._params: Mapping[str, Any] = MappingProxyType(dict(config.strategy.params if params is None else params))
        self._balances: dict[tuple[str, str], int] = {
            (v, a): x for v, vc in config.venues.items() for a, x in vc.balances.items()
        }
        self._initial = dict(self._balances)
        self._positions: dict[tuple[str, str], int] = {}
        self._books: dict[str, arbcore.ConsolidatedBook] = {}
        self._states: dict[tuple[str, str], str] = {}
        #: the time of the last ``on_timer`` tick (ns; 0 before the first), not the current time
        self.now_ns: int = 0
        #: the engine's open residuals per instrument (engine-set: ``residuals.net_residuals``)
        self.residuals_source: Callable[[], Mapping[str, int]] | None = None
        self._carried: dict[str, int] = {}  # the residuals at the run's start (``mark_start``)

    # strategy side (read-only)

    @property
    def config(self) -> Config:
        return self._config

    @property
    def params(self) -> Mapping[str, Any]:
        return self._params

    def instrument(self, name: str) -> InstrumentConfig:
        return self._config.instrument(name)

    def balance(self, venue: str, asset: str) -> int:
        return self._balances.get((venue, asset), 0)

    def initial_balance(self, venue: str, asset: str) -> int:
        return self._initial.get((venue, asset), 0)

    def balances(self) -> dict[tuple[str, str], int]:
        return dict(self._balances)

    def position(self, venue: str, asset: str) -> int:
        """Signed position of ``asset`` on ``venue`` (engine-set; defaults to balance - initial balance)."""
        key = (venue, asset)
        if key in self._positions:
            return self._positions[key]
        return self._balances.get(key, 0) - self._initial.get(key, 0)

    def net_position(self, asset: str) -> int:
        return sum(self.position(v, asset) for v in self._config.venues)

    def engine_residual(self, instrument: str) -> int:
        """What the engine itself is flattening of ``instrument`` (raw, at its quantity decimals,
        signed: > 0 long): tickets' residuals and base paid as fees, which its residual sweeper
        sells or buys back once a venue takes the amount. Part of :meth:`net_position` already: a
        strategy that flattens the net leaves this out, or both would trade it. Counted from the
        run's start as positions are: a residual carried over a restart is in neither until the
        sweeper trades it (then both show the trade)."""
        if self.residuals_source is None:
            return 0
        return self.residuals_source().get(instrument, 0) - self._carried.get(instrument, 0)

    def book_state(self, venue: str, instrument: str) -> str:
        """SYNCING, LIVE, STALE or BROKEN: read from the book itself once books are attached (as
        :meth:`best_bid` reads them), else the last state the host was told."""
        book = self._books.get(instrument)
        if book is not None and venue in book.venues:
            return book.state_name(venue)
        return self._states.get((venue, instrument), "SYNCING")

    def best_bid(self, venue: str, instrument: str) -> tuple[int, int] | None:
        """(raw price, raw qty) of the venue's best bid, None when no book or not LIVE."""
        book = self._books.get(instrument)
        if book is None or venue not in book.venues or book.state_name(venue) != "LIVE":
            return None
        return book.best_bid(venue)

    def best_ask(self, venue: str, instrument: str) -> tuple[int, int] | None:
        book = self._books.get(instrument)
        if book is None or venue not in book.venues or book.state_name(venue) != "LIVE":
            return None
        return book.best_ask(venue)

    # engine side

    def set_balance(self, venue: str, asset: str, amount: int) -> None:
        self._balances[(venue, asset)] = amount

    def set_position(self, venue: str, asset: str, amount: int) -> None:
        self._positions[(venue, asset)] = amount

    def mark_start(self) -> None:
        """The balances set so far are the run's start: positions count from them, not from the
        config's paper balances (a live venue has none; a venue's own balances replaced them).
        So do the engine's residuals (:meth:`engine_residual`): set ``residuals_source`` first."""
        self._initial = dict(self._balances)
        self._carried = {} if self.residuals_source is None else dict(self.residuals_source())

    def set_book_state(self, venue: str, instrument: str, state: str) -> None:
        self._states[(venue, instrument)] = state

    def attach_books(self, books: Mapping[str, arbcore.ConsolidatedBook]) -> None:
        """instrument name -> its consolidated book (read by best_bid / best_ask)."""
        self._books = dict(books)


# ---- the base class ------------------------------------------------------------------------


class Strategy:
    """Base class of strategy plug-ins. Override the hooks you need; each may return ticket
    proposals or None. Hooks run on the event loop: return quickly, never block or sleep.

    - :meth:`on_start`: once, before any other hook.
    - :meth:`on_opportunity`: an opportunity detected after fees, lots, ticks and balances.
    - :meth:`on_fill`: one of the engine's orders filled (any ticket, any strategy).
    - :meth:`on_ticket`: a ticket of this strategy's ended, or was refused (and why).
    - :meth:`on_book_state`: a venue's book for an instrument changed state (LIVE, STALE, ...).
    - :meth:`on_timer`: every ``run.timer_ms`` (default 1 s), with the time in ns.
    - :meth:`on_stop`: once at shutdown.
    """

    #: shown in logs and the dashboard; defaults to the class name
    name: str = ""

    def __init__(self, context: StrategyContext) -> None:
        self.context = context
        if not self.name:
            self.name = type(self).__name__

    @property
    def params(self) -> Mapping[str, Any]:
        return self.context.params

    def on_start(self) -> None:
        return None

    def on_opportunity(self, opp: Opportunity) -> list[TicketProposal] | None:
        return None

    def on_fill(self, fill: FillEvent) -> list[TicketProposal] | None:
        return None

    def on_ticket(self, ticket: TicketOutcome) -> list[TicketProposal] | None:
        return None

    def on_book_state(self, venue: str, instrument: str, state: str) -> list[TicketProposal] | None:
        return None

    def on_timer(self, now_ns: int) -> list[TicketProposal] | None:
        return None

    def on_stop(self) -> None:
        return None


# ---- the host ------------------------------------------------------------------------------


#: a hook that runs longer than this held the event loop (feeds, order replies, tickets) that long
SLOW_HOOK_NS = 20_000_000
#: a slow hook is warned of at most once per this many seconds per hook (the count goes with it)
SLOW_HOOK_QUIET_NS = 10_000_000_000


class StrategyHost:
    """Calls a strategy's hooks and contains its failures.

    Every hook method returns the (validated) proposals, ``[]`` when the strategy returned None
    or is stopped. When a hook raises or returns something invalid, the host logs one line
    (``strategy NAME stopped: in on_opportunity: ValueError: ...``) plus the traceback at debug
    level, sets :attr:`stopped` and :attr:`error`, calls ``on_stopped`` (the engine's hook to
    cancel this strategy's orders) and never calls the strategy again. A hook that takes longer
    than :data:`SLOW_HOOK_NS` is a WARNING naming it and how long it held the event loop (at
    most one a ``SLOW_HOOK_QUIET_NS`` per hook, with the count of slow calls since).
    """

    def __init__(
        self,
        strategy: Strategy,
        *,
        spec: str = "",
        on_stopped: Callable[[StrategyHost], None] | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.strategy = strategy
        self.context = strategy.context
        self.name = strategy.name or type(strategy).__name__
        self.spec = spec or self.name
        self.on_stopped = on_stopped
        self._report = report
        self.stopped = False
        self.error: BaseException | None = None
        self.error_text: str | None = None
        self.calls = 0
        self.proposals = 0
        self.hook_ns = 0  # total time spent in hooks
        self._started = False
        self._ended = False  # on_stop was called: no hook after it (a ticket outliving the stop's wait)
        #: routes of proposals that passed ``problem()`` against this config (see `_known_good`)
        self._good_routes: set[tuple[str, str | None, str | None, bool, bool]] = set()
        self._slow: dict[str, tuple[int | None, int]] = {}  # hook -> (when last warned, slow calls not warned of)

    def _fail(self, hook: str, exc: BaseException | None, why: str | None = None) -> None:
        self.stopped = True
        self.error = exc if exc is not None else ValueError(why)
        detail = f"{type(exc).__name__}: {exc}" if exc is not None else str(why)
        self.error_text = f"in {hook}: {detail}"
        line = f"strategy {self.name} stopped: {self.error_text}"
        log.error(line)
        if exc is not None:
            log.debug("".join(traceback.format_exception(exc)))
        if self._report is not None:
            self._report(line)
        if self.on_stopped is not None:
            try:
                self.on_stopped(self)
            except Exception:  # the engine's callback must not take the host down either
                log.exception("on_stopped callback failed for strategy %s", self.name)

    def _call(self, hook: str, fn: Callable[[], object]) -> list[TicketProposal]:
        if self.stopped or self._ended:
            return []
        self.calls += 1
        t0 = time.perf_counter_ns()
        try:
            out = fn()
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # also SystemExit, CancelledError: the plug-in's failure, not the engine's
            self._fail(hook, e)
            return []
        finally:
            dt = time.perf_counter_ns() - t0
            self.hook_ns += dt
            if dt > SLOW_HOOK_NS:
                self._warn_slow(hook, dt)
        if out is None:
            return []
        return self._accept(hook, out)

    def _accept(self, hook: str, out: object) -> list[TicketProposal]:
        """``out`` (not None) as a list of valid proposals, or [] after failing the plug-in."""
        if isinstance(out, TicketProposal):
            out = [out]
        if not isinstance(out, list | tuple):
            self._fail(hook, None, f"returned {type(out).__name__}, not a list of TicketProposal")
            return []
        for p in out:
            if not isinstance(p, TicketProposal):
                self._fail(hook, None, f"returned a {type(p).__name__} among its proposals, not a TicketProposal")
                return []
            if not self._known_good(p):
                why = p.problem(self.context.config)
                if why is not None:
                    self._fail(hook, None, f"invalid proposal: {why}")
                    return []
                self._good_routes.add(_route(p))
        self.proposals += len(out)
        return list(out)

    def _known_good(self, p: TicketProposal) -> bool:
        """What ``p.problem(config)`` would pass, decided without it for a route (instrument, venues
        and which limits are set) already validated: the numbers need only be positive ints."""
        b, s, q = p.buy_limit, p.sell_limit, p.qty
        try:
            if (p.instrument, p.buy_venue, p.sell_venue, b is None, s is None) not in self._good_routes:
                return False
        except TypeError:  # an unhashable name: problem() says what is wrong with it
            return False
        return (
            type(q) is int
            and q > 0
            and (b is None or (type(b) is int and b > 0))
            and (s is None or (type(s) is int and s > 0))
        )

    def _warn_slow(self, hook: str, dt: int) -> None:
        now = time.monotonic_ns()
        last, held = self._slow.get(hook, (None, 0))
        if last is not None and now - last < SLOW_HOOK_QUIET_NS:
            self._slow[hook] = (last, held + 1)
            return
        self._slow[hook] = (now, 0)
        more = ""
        if held and last is not None:
            more = f" ({held} more slow calls of it in the {(now - last) / 1e9:.0f} s before)"
        log.warning(
            "strategy %s: %s took %.1f ms, holding the event loop (market data, order replies and tickets "
            "waited); hooks must return quickly%s", self.name, hook, dt / 1e6, more,
        )  # fmt: skip

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._call("on_start", self.strategy.on_start)

    def stop(self) -> None:
        """Call ``on_stop`` (unless already stopped by a failure)."""
        if self._started:
            self._call("on_stop", self.strategy.on_stop)
            self._started = False
            self._ended = True

    def on_opportunity(self, opp: Opportunity) -> list[TicketProposal]:
        return self._call("on_opportunity", lambda: self.strategy.on_opportunity(opp))

    def on_opportunities(self, opps: Iterable[Opportunity]) -> list[TicketProposal]:
        """``on_opportunity`` for each, in order (the same calls, counts and failure handling),
        without a closure and a call frame per opportunity: this is on the tick-to-order path."""
        out: list[TicketProposal] = []
        if self._ended:
            return out
        hook = self.strategy.on_opportunity
        clock = time.perf_counter_ns
        slow = SLOW_HOOK_NS
        for o in opps:
            if self.stopped:
                break
            self.calls += 1
            t0 = clock()
            try:
                got = hook(o)
            except KeyboardInterrupt:
                raise
            except BaseException as e:
                self.hook_ns += clock() - t0
                self._fail("on_opportunity", e)
                break
            dt = clock() - t0
            self.hook_ns += dt
            if dt > slow:
                self._warn_slow("on_opportunity", dt)
            if got is None:
                continue
            if type(got) is list and len(got) == 1:  # the usual answer: one proposal
                p = got[0]
                if type(p) is TicketProposal and self._known_good(p):
                    self.proposals += 1
                    out.append(p)
                    continue
            out += self._accept("on_opportunity", got)
        return out

    def on_fill(self, fill: FillEvent) -> list[TicketProposal]:
        return self._call("on_fill", lambda: self.strategy.on_fill(fill))

    def on_ticket(self, ticket: TicketOutcome) -> list[TicketProposal]:
        return self._call("on_ticket", lambda: self.strategy.on_ticket(ticket))

    def on_book_state(self, venue: str, instrument: str, state: str) -> list[TicketProposal]:
        self.context.set_book_state(venue, instrument, state)
        return self._call("on_book_state", lambda: self.strategy.on_book_state(venue, instrument, state))

    def on_timer(self, now_ns: int) -> list[TicketProposal]:
        self.context.now_ns = now_ns
        return self._call("on_timer", lambda: self.strategy.on_timer(now_ns))


def _route(p: TicketProposal) -> tuple[str, str | None, str | None, bool, bool]:
    return (p.instrument, p.buy_venue, p.sell_venue, p.buy_limit is None, p.sell_limit is None)


# ---- the loader ----------------------------------------------------------------------------


def _load_module(path: Path) -> ModuleType:
    mod_name = f"arbcore_plugin_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise StrategyLoadError(f"strategy {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        sys.modules.pop(mod_name, None)
        raise StrategyLoadError(f"strategy {path}: importing it raised {type(e).__name__}: {e}") from None
    return module


def resolve_strategy_class(spec: str, base_dir: Path | None = None) -> type[Strategy]:
    """The class named by ``spec``: a builtin name, ``file.py`` (its one Strategy subclass) or
    ``file.py:Class``. Raises :class:`StrategyLoadError` with one line saying what is wrong."""
    if spec in BUILTINS:
        module_name, cls_name = BUILTINS[spec]
        cls = getattr(importlib.import_module(module_name), cls_name)
        assert isinstance(cls, type) and issubclass(cls, Strategy)
        return cls
    file_part, _, cls_name = spec.partition(":")
    if not file_part.endswith(".py"):
        raise StrategyLoadError(
            f"strategy {spec!r}: not a builtin ({', '.join(BUILTINS)}) nor a path/to/file.py[:Class]"
        )
    path = Path(file_part).expanduser()
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = base_dir / path
    if not path.is_file():
        raise StrategyLoadError(f"strategy {file_part}: no such file")
    module = _load_module(path.resolve())
    if cls_name:
        obj = getattr(module, cls_name, None)
        if obj is None:
            raise StrategyLoadError(f"strategy {file_part}: no class {cls_name!r} in it")
        if not (isinstance(obj, type) and issubclass(obj, Strategy)):
            raise StrategyLoadError(
                f"strategy {file_part}:{cls_name}: not a subclass of arbcore.runner.plugins.Strategy"
            )
        return obj
    found = [
        o
        for _, o in inspect.getmembers(module, inspect.isclass)
        if issubclass(o, Strategy) and o is not Strategy and o.__module__ == module.__name__
    ]
    if not found:
        raise StrategyLoadError(f"strategy {file_part}: defines no subclass of arbcore.runner.plugins.Strategy")
    if len(found) > 1:
        names = ", ".join(sorted(o.__name__ for o in found))
        raise StrategyLoadError(f"strategy {file_part}: defines several strategies ({names}); name one as FILE:Class")
    return found[0]


def load_strategy(
    spec: str | None,
    config: Config,
    params: Mapping[str, Any] | None = None,
    *,
    on_stopped: Callable[[StrategyHost], None] | None = None,
    report: Callable[[str], None] | None = None,
) -> StrategyHost:
    """Load and construct a strategy, wrapped in a :class:`StrategyHost`.

    ``spec`` defaults to ``config.strategy.spec`` (relative paths resolve against the current
    directory, then the config file's directory); ``params`` to ``config.strategy.params``.
    Raises :class:`StrategyLoadError` (one line) when the file, class or constructor fails.
    """
    spec = spec or config.strategy.spec
    cls = resolve_strategy_class(spec, config.strategy.base_dir)
    context = StrategyContext(config, params)
    try:
        strategy = cls(context)
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        raise StrategyLoadError(f"strategy {spec}: {cls.__name__}(...) raised {type(e).__name__}: {e}") from None
    return StrategyHost(strategy, spec=spec, on_stopped=on_stopped, report=report)


__all__ = [
    "BUILTINS",
    "FillEvent",
    "Opportunity",
    "Strategy",
    "StrategyContext",
    "StrategyHost",
    "StrategyLoadError",
    "TicketOutcome",
    "TicketProposal",
    "load_strategy",
    "resolve_strategy_class",
]
