"""The reserving ledger: balances per (venue, asset) and reservations per ticket leg.

Every amount is an integer in its asset's units (:class:`~arbcore.execution.amounts.Asset`).
For each (venue, asset): ``total`` is what the venue holds for us, ``reserved`` is the sum of the
open reservations on it, and ``available = total - reserved`` is what a new ticket may take.

Invariants, kept by every call (a refused call raises and changes nothing):

- ``0 <= reserved <= total`` and so ``available >= 0``;
- ``reserved`` equals the sum of the remaining reservations on that (venue, asset);
- totals change only by fills (spent, received, fees) and by explicit set/adopt calls.

Two tickets cannot spend the same funds: a reservation is taken from ``available`` in one
synchronous call with no await inside, so interleaved asyncio tasks see each other's
reservations. A fill consumes the reservation of its own leg, never another leg's.

Fills, releases and cancels carry an event id; ``(ticket_id, leg_id, event_id)`` is applied at
most once (a replayed fill returns the first result), and the same key with different content
raises :class:`EventConflictError`. A finished ticket is retired (:meth:`Ledger.retire`, a
``retire`` event): its spent reservations and applied event ids are forgotten, so a process that
trades for days does not hold every ticket it ever made. Each applied change is passed as a :class:`LedgerEvent` to the
optional ``sink`` (the journal), and :meth:`Ledger.apply` replays such events, so a restarted
process rebuilds exactly this state. :meth:`Ledger.snapshot` and :meth:`Ledger.restore` save and
rebuild the whole of it: the journal's checkpoints (``ledger_checkpoint.py``), from which a
start replays only the events journaled since.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from arbcore.execution.amounts import Amount, Asset
from arbcore.execution.errors import (
    AssetScaleError,
    EventConflictError,
    InsufficientFundsError,
    ReconcileConflictError,
    ReservationExceededError,
    ReservationExistsError,
    UnknownReservationError,
)

LegKey = tuple[str, str]  # (ticket_id, leg_id)
ResKey = tuple[str, str, str]  # (ticket_id, leg_id, asset name)


@dataclass(frozen=True)
class Balance:
    total: int
    reserved: int

    @property
    def available(self) -> int:
        return self.total - self.reserved


@dataclass(frozen=True)
class Reservation:
    venue: str
    asset: Asset
    amount: int  # as reserved
    remaining: int  # not yet consumed by fills nor released


@dataclass(frozen=True)
class LedgerEvent:
    """One applied ledger change, as journaled and replayed.

    ``kind`` is ``set_total``, ``adopt``, ``reserve``, ``release``, ``release_all``, ``fill`` or
    ``retire`` (a finished ticket forgotten);
    ``amounts`` are (role, amount) pairs: ``total`` (set/adopt), ``amount`` (reserve/release),
    ``spend``/``receive``/``fee`` (fill); ``reason`` names why a leg was released (cancel, expire,
    reject) or, on a fill, ``allow_available``.
    """

    kind: str
    venue: str
    ticket_id: str = ""
    leg_id: str = ""
    event_id: str = ""
    amounts: tuple[tuple[str, Amount], ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class FillResult:
    applied: bool  # False when the event id was applied before (nothing changed now)
    deltas: Mapping[str, int]  # asset name -> change of total
    from_reservation: Mapping[str, int]  # asset name -> consumed from the leg's reservation
    from_available: Mapping[str, int]  # asset name -> taken beyond the reservation (allow_available)


@dataclass(frozen=True)
class BalanceDiff:
    asset: Asset
    ledger_total: int
    venue_total: int | None  # None: the venue did not report this asset
    reserved: int

    @property
    def diff(self) -> int | None:
        """Venue minus ledger, or None when the venue did not report the asset."""
        return None if self.venue_total is None else self.venue_total - self.ledger_total


@dataclass(frozen=True)
class Reconciliation:
    venue: str
    diffs: tuple[BalanceDiff, ...]
    adopted: bool

    @property
    def mismatches(self) -> tuple[BalanceDiff, ...]:
        """Assets whose venue total differs from the ledger or was not reported."""
        return tuple(d for d in self.diffs if d.diff != 0)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def describe(self) -> str:
        """The mismatches in words, as decimals: ``BTC ledger 2.86 venue 3; ...``."""
        return "; ".join(
            f"{d.asset.name} ledger {d.asset.format(d.ledger_total)} venue "
            + ("not reported" if d.venue_total is None else d.asset.format(d.venue_total))
            for d in self.mismatches
        )


@dataclass(frozen=True)
class LedgerSnapshot:
    """Everything a :class:`Ledger` holds, each map in its own insertion order, so that
    :meth:`Ledger.restore` rebuilds the very ledger (a checkpoint: ``ledger_checkpoint.py``)."""

    changes: int
    assets: tuple[Asset, ...]
    balances: tuple[tuple[str, str, int, int], ...]  # (venue, asset name, total, reserved)
    legs: tuple[tuple[str, str, str, tuple[str, ...]], ...]  # (ticket, leg, venue, its assets as reserved)
    reservations: tuple[tuple[ResKey, str, int, int], ...]  # (key, venue, amount, remaining)
    tickets: tuple[tuple[str, tuple[str, ...]], ...]  # (ticket, its legs as first reserved)
    applied: tuple[tuple[LedgerEvent, FillResult | dict[str, int]], ...]  # idempotence: event, first result
    ticket_events: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (ticket, its applied (leg, event id))


@dataclass
class _Bal:
    total: int = 0
    reserved: int = 0


@dataclass
class _Res:
    venue: str
    asset: Asset
    amount: int
    remaining: int


@dataclass
class _Applied:
    event: LedgerEvent
    result: FillResult | dict[str, int] = field(default_factory=dict)


def _check_int(name: str, value: int, *, positive: bool = False, non_negative: bool = False) -> None:
    # bool is an int subclass and float would break exactness: refuse both loudly.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} {value} must be > 0")
    if non_negative and value < 0:
        raise ValueError(f"{name} {value} must be >= 0")


class Ledger:
    """Balances, reservations and fills of every venue; see the module docstring."""

    def __init__(self, sink: Callable[[LedgerEvent], None] | None = None) -> None:
        self._sink = sink
        self._assets: dict[str, Asset] = {}
        self._bal: dict[tuple[str, str], _Bal] = {}
        self._res: dict[ResKey, _Res] = {}
        self._leg_venue: dict[LegKey, str] = {}
        self._leg_assets: dict[LegKey, list[str]] = {}  # so releasing a leg never scans every reservation
        self._applied: dict[tuple[str, str, str], _Applied] = {}
        self._ticket_legs: dict[str, list[str]] = {}  # what retire() forgets, without a scan
        self._ticket_events: dict[str, list[tuple[str, str, str]]] = {}
        #: called with (venue, asset name, available) after every change of a balance: the Rust
        #: order path keeps a copy of what is available (``execution/fast_path.py``)
        self.watch: Callable[[str, str, int], None] | None = None
        #: how many events this ledger applied: a reconciliation compares it before and after
        #: asking a venue (``Executor.reconcile_balances``)
        self.changes = 0
        self._capturing = False

    # ---- reading ----------------------------------------------------------------------------

    def balance(self, venue: str, asset: Asset | str) -> Balance:
        b = self._bal.get((venue, asset if isinstance(asset, str) else asset.name))
        return Balance(b.total, b.reserved) if b else Balance(0, 0)

    def balances(self) -> dict[tuple[str, str], Balance]:
        return {k: Balance(b.total, b.reserved) for k, b in sorted(self._bal.items())}

    def asset(self, name: str) -> Asset:
        return self._assets[name]

    def reservation(self, ticket_id: str, leg_id: str, asset: Asset | str) -> Reservation:
        r = self._res.get((ticket_id, leg_id, asset if isinstance(asset, str) else asset.name))
        if r is None:
            raise UnknownReservationError(f"no reservation for ticket {ticket_id!r} leg {leg_id!r} asset {asset}")
        return Reservation(r.venue, r.asset, r.amount, r.remaining)

    def holds(self, ticket_id: str, leg_id: str) -> bool:
        """Whether the leg has reservations here (not retired, nor never reserved)."""
        return (ticket_id, leg_id) in self._leg_venue

    def held_tickets(self) -> list[str]:
        """The tickets with a leg this ledger holds (see :meth:`holds`), in the order first reserved."""
        return list(self._ticket_legs)

    def reservations(self) -> dict[ResKey, Reservation]:
        return {k: Reservation(r.venue, r.asset, r.amount, r.remaining) for k, r in sorted(self._res.items())}

    def state(self) -> tuple[object, ...]:
        """Everything observable, for equality checks (replay vs live, refused call vs before)."""
        applied = sorted((k, a.event) for k, a in self._applied.items())
        return (dict(sorted(self._assets.items())), self.balances(), self.reservations(), applied)

    def snapshot(self) -> LedgerSnapshot:
        """The whole ledger, from which :meth:`restore` rebuilds an equal one (their snapshots equal)."""
        return LedgerSnapshot(
            self.changes,
            tuple(self._assets.values()),
            tuple((v, n, b.total, b.reserved) for (v, n), b in self._bal.items()),
            tuple((t, leg, venue, tuple(self._leg_assets[(t, leg)])) for (t, leg), venue in self._leg_venue.items()),
            tuple((k, r.venue, r.amount, r.remaining) for k, r in self._res.items()),
            tuple((t, tuple(legs)) for t, legs in self._ticket_legs.items()),
            tuple(
                (a.event, a.result if isinstance(a.result, FillResult) else dict(a.result))
                for a in self._applied.values()
            ),
            tuple((t, tuple((k[1], k[2]) for k in keys)) for t, keys in self._ticket_events.items()),
        )

    @classmethod
    def restore(cls, snap: LedgerSnapshot, sink: Callable[[LedgerEvent], None] | None = None) -> Ledger:
        """The ledger :meth:`snapshot` saw; ``sink`` receives later changes."""
        ledger = cls(sink)
        ledger.changes = snap.changes
        ledger._assets = {a.name: a for a in snap.assets}
        ledger._bal = {(v, n): _Bal(total, reserved) for v, n, total, reserved in snap.balances}
        ledger._leg_venue = {(t, leg): venue for t, leg, venue, _ in snap.legs}
        ledger._leg_assets = {(t, leg): list(names) for t, leg, _, names in snap.legs}
        ledger._res = {k: _Res(venue, ledger._assets[k[2]], amount, remaining)
                       for k, venue, amount, remaining in snap.reservations}  # fmt: skip
        ledger._ticket_legs = {t: list(legs) for t, legs in snap.tickets}
        ledger._applied = {(ev.ticket_id, ev.leg_id, ev.event_id): _Applied(ev, result) for ev, result in snap.applied}
        ledger._ticket_events = {t: [(t, leg, e) for leg, e in keys] for t, keys in snap.ticket_events}
        return ledger

    @property
    def capturing(self) -> bool:
        """Inside :meth:`capture`: changes made that the journal has not been given yet."""
        return self._capturing

    def violations(self) -> list[str]:
        """Broken invariants (empty when the ledger is sound); for tests and after a replay."""
        out: list[str] = []
        per: dict[tuple[str, str], int] = {}
        for (_, _, name), r in self._res.items():
            if not 0 <= r.remaining <= r.amount:
                out.append(f"reservation {r} remaining outside 0..amount")
            per[(r.venue, name)] = per.get((r.venue, name), 0) + r.remaining
        for key, b in self._bal.items():
            if not 0 <= b.reserved <= b.total:
                out.append(f"{key}: reserved {b.reserved} outside 0..total {b.total}")
            if per.get(key, 0) != b.reserved:
                out.append(f"{key}: reserved {b.reserved} != sum of reservations {per.get(key, 0)}")
        out.extend(f"{k}: reservation on a venue/asset with no balance" for k in per if k not in self._bal)
        return out

    # ---- funding and reconciliation ---------------------------------------------------------

    def set_total(self, venue: str, asset: Asset, total: int) -> None:
        """Set what the venue holds (start-up funding, a deposit seen); refused below what is reserved."""
        self._adopt_totals(venue, {asset: total}, kind="set_total")

    def reconcile(self, venue: str, reported: Mapping[Asset, int], *, adopt: bool = False) -> Reconciliation:
        """Compare the venue's totals with the ledger; with ``adopt`` take the venue's totals.

        Every asset the ledger or the venue knows appears in the result; one the venue did not
        report has ``venue_total=None`` and is never adopted. Adoption is all or nothing: if a
        reported total is below what is reserved on it, :class:`ReconcileConflictError` is raised and
        nothing changes (release or finish the tickets holding it first).
        """
        for a in reported:
            self._check_asset(a)  # comparing amounts at two scales would report nonsense
        names = {n for (v, n) in self._bal if v == venue}
        by_name = {a.name: (a, t) for a, t in reported.items()}
        diffs = []
        for name in sorted(names | by_name.keys()):
            b = self._bal.get((venue, name), _Bal())
            asset, vt = by_name.get(name, (self._assets.get(name), None))
            assert asset is not None
            diffs.append(BalanceDiff(asset, b.total, vt, b.reserved))
        if adopt and reported:
            self._adopt_totals(venue, dict(reported), kind="adopt")
        return Reconciliation(venue, tuple(diffs), adopted=adopt and bool(reported))

    def _adopt_totals(self, venue: str, totals: dict[Asset, int], kind: str) -> None:
        for asset, total in totals.items():
            _check_int(f"{asset} total", total, non_negative=True)
            self._check_asset(asset)
        short = [
            f"{a.name}: total {a.format(t)} < reserved {a.format(self.balance(venue, a).reserved)}"
            for a, t in totals.items()
            if t < self.balance(venue, a).reserved
        ]
        if short:
            raise ReconcileConflictError(f"{venue}: refusing to {kind}: " + "; ".join(short))
        for asset, total in sorted(totals.items()):  # the event's order: a replay registers them so too
            self._register(asset)
            self._bal.setdefault((venue, asset.name), _Bal()).total = total
        self._emit(LedgerEvent(kind, venue, amounts=tuple(("total", Amount(a, t)) for a, t in sorted(totals.items()))))

    # ---- reservations -----------------------------------------------------------------------

    def reserve(self, ticket_id: str, leg_id: str, venue: str, asset: Asset, amount: int) -> None:
        """Set ``amount`` of ``asset`` on ``venue`` aside for this ticket leg, from available funds."""
        _check_int("reserve amount", amount, positive=True)
        self._check_asset(asset)
        self._check_leg_venue(ticket_id, leg_id, venue)
        key = (ticket_id, leg_id, asset.name)
        if key in self._res:
            raise ReservationExistsError(f"ticket {ticket_id!r} leg {leg_id!r} already reserved {asset.name}")
        bal = self._bal.get((venue, asset.name)) or _Bal()
        if bal.total - bal.reserved < amount:
            raise InsufficientFundsError(
                f"{venue} {asset.name}: reserve {asset.format(amount)} for {ticket_id}/{leg_id} but only "
                f"{asset.format(bal.total - bal.reserved)} available (total {asset.format(bal.total)}, "
                f"reserved {asset.format(bal.reserved)})"
            )
        self._register(asset)
        if (ticket_id, leg_id) not in self._leg_venue:
            self._ticket_legs.setdefault(ticket_id, []).append(leg_id)
        self._leg_venue[(ticket_id, leg_id)] = venue
        self._leg_assets.setdefault((ticket_id, leg_id), []).append(asset.name)
        self._res[key] = _Res(venue, asset, amount, amount)
        self._bal.setdefault((venue, asset.name), _Bal()).reserved += amount
        self._emit(LedgerEvent("reserve", venue, ticket_id, leg_id, amounts=(("amount", Amount(asset, amount)),)))

    def release(self, ticket_id: str, leg_id: str, event_id: str, asset: Asset, amount: int) -> int:
        """Give back exactly ``amount`` of the leg's reservation; returns it (0 on a replayed event)."""
        _check_int("release amount", amount, positive=True)
        ev = LedgerEvent(
            "release",
            self._venue_of(ticket_id, leg_id),
            ticket_id,
            leg_id,
            event_id,
            (("amount", Amount(asset, amount)),),
        )
        if self._seen(ev):
            return 0
        r = self._res.get((ticket_id, leg_id, asset.name))
        if r is None or r.asset != asset:
            raise UnknownReservationError(f"no reservation of {asset} for ticket {ticket_id!r} leg {leg_id!r}")
        if amount > r.remaining:
            raise ReservationExceededError(
                f"release {asset.format(amount)} {asset.name} for {ticket_id}/{leg_id} but only "
                f"{asset.format(r.remaining)} remains reserved"
            )
        r.remaining -= amount
        self._bal[(r.venue, asset.name)].reserved -= amount
        self._done(ev, {asset.name: amount})
        return amount

    def release_remaining(self, ticket_id: str, leg_id: str, event_id: str, reason: str) -> dict[str, int]:
        """Give back everything still reserved for the leg (all assets); returns what was released."""
        ev = LedgerEvent("release_all", self._venue_of(ticket_id, leg_id), ticket_id, leg_id, event_id, reason=reason)
        prior = self._applied.get((ticket_id, leg_id, event_id))
        if self._seen(ev):
            assert prior is not None and isinstance(prior.result, dict)
            return dict(prior.result)
        released: dict[str, int] = {}
        for name in self._leg_assets.get((ticket_id, leg_id), ()):
            r = self._res[(ticket_id, leg_id, name)]
            if r.remaining:
                released[name] = r.remaining
                self._bal[(r.venue, name)].reserved -= r.remaining
                r.remaining = 0
        self._done(ev, released)
        return released

    def cancel(self, ticket_id: str, leg_id: str, event_id: str) -> dict[str, int]:
        return self.release_remaining(ticket_id, leg_id, event_id, "cancel")

    def retire(self, ticket_id: str) -> bool:
        """Forget a finished ticket: its reservations, every one spent or released, and the event
        ids applied for it. False, and nothing forgotten, while one still holds funds. Balances do
        not change (nor :attr:`changes`: a reconciliation in flight stands). Why: the ledger kept
        ~7 entries per ticket for as long as the process ran. After it, an event for the ticket
        finds no reservation (:class:`UnknownReservationError`): the engine retires a ticket only
        once every order of it is done, fills applied (``Executor.forget``)."""
        legs = self._ticket_legs.get(ticket_id)
        if legs is None:
            return False
        if any(
            self._res[(ticket_id, leg, name)].remaining for leg in legs for name in self._leg_assets[(ticket_id, leg)]
        ):
            return False
        for leg in self._ticket_legs.pop(ticket_id):
            for name in self._leg_assets.pop((ticket_id, leg)):
                del self._res[(ticket_id, leg, name)]
            del self._leg_venue[(ticket_id, leg)]
        for key in self._ticket_events.pop(ticket_id, ()):
            self._applied.pop(key, None)
        if self._sink is not None:
            self._sink(LedgerEvent("retire", "", ticket_id))
        return True

    def expire(self, ticket_id: str, leg_id: str, event_id: str) -> dict[str, int]:
        return self.release_remaining(ticket_id, leg_id, event_id, "expire")

    def reject(self, ticket_id: str, leg_id: str, event_id: str) -> dict[str, int]:
        return self.release_remaining(ticket_id, leg_id, event_id, "reject")

    # ---- fills ------------------------------------------------------------------------------

    def convert_fill(
        self,
        ticket_id: str,
        leg_id: str,
        fill_id: str,
        *,
        spend: Amount,
        receive: Amount,
        fee: Amount | None = None,
        allow_available: bool = False,
    ) -> FillResult:
        """Apply one fill of the leg: ``spend`` leaves, ``receive`` arrives, ``fee`` is charged.

        A negative fee is a rebate. Per asset, the net outflow is taken from the leg's own
        reservation on that asset; a fee charged in the received asset is netted against it.
        Any outflow beyond the reservation is refused with :class:`ReservationExceededError`
        unless ``allow_available`` (then it must fit in available funds, and is reported in
        ``from_available``). Returns what changed; a replayed ``fill_id`` changes nothing.
        """
        _check_int("fill spend", spend.value, positive=True)
        _check_int("fill receive", receive.value, non_negative=True)
        if fee is not None:
            _check_int("fill fee", fee.value)
        if spend.asset.name == receive.asset.name:
            raise ValueError(f"fill {fill_id!r}: spend and receive are both {spend.asset}")
        venue = self._venue_of(ticket_id, leg_id)
        amounts = [("spend", spend), ("receive", receive)] + ([("fee", fee)] if fee is not None else [])
        ev = LedgerEvent(
            "fill", venue, ticket_id, leg_id, fill_id, tuple(amounts), "allow_available" if allow_available else ""
        )
        prior = self._applied.get((ticket_id, leg_id, fill_id))
        if self._seen(ev):
            assert prior is not None and isinstance(prior.result, FillResult)
            r = prior.result
            return FillResult(False, dict(r.deltas), dict(r.from_reservation), dict(r.from_available))
        net: dict[str, int] = {}
        assets: dict[str, Asset] = {}
        for role, amt in amounts:
            self._check_asset(amt.asset)
            if assets.setdefault(amt.asset.name, amt.asset) != amt.asset:
                raise AssetScaleError(f"fill {fill_id!r}: {amt.asset.name} at two scales")
            net[amt.asset.name] = net.get(amt.asset.name, 0) + (amt.value if role == "receive" else -amt.value)
        from_res: dict[str, int] = {}
        from_avail: dict[str, int] = {}
        for name, delta in net.items():
            if delta >= 0:
                continue
            res = self._res.get((ticket_id, leg_id, name))
            take = min(-delta, res.remaining if res else 0)
            rest = -delta - take
            if take:
                from_res[name] = take
            if not rest:
                continue
            a = assets[name]
            if not allow_available:
                raise ReservationExceededError(
                    f"fill {fill_id!r} of {ticket_id}/{leg_id} on {venue} takes {a.format(-delta)} {name}, "
                    f"{a.format(rest)} more than the {a.format(take)} reserved"
                )
            avail = self.balance(venue, name).available
            if rest > avail:
                raise InsufficientFundsError(
                    f"fill {fill_id!r} of {ticket_id}/{leg_id} on {venue} needs {a.format(rest)} {name} beyond "
                    f"its reservation but only {a.format(avail)} is available"
                )
            from_avail[name] = rest

        for name, delta in net.items():
            self._register(assets[name])
            b = self._bal.setdefault((venue, name), _Bal())
            b.total += delta
            if name in from_res:
                self._res[(ticket_id, leg_id, name)].remaining -= from_res[name]
                b.reserved -= from_res[name]
        result = FillResult(True, net, from_res, from_avail)
        self._done(ev, result)
        return FillResult(True, dict(net), dict(from_res), dict(from_avail))

    # ---- replay -----------------------------------------------------------------------------

    def apply(self, ev: LedgerEvent) -> None:
        """Re-apply a journaled event (used by replay; identical events are no-ops)."""
        am = dict(ev.amounts)
        if ev.kind in ("set_total", "adopt"):
            self._adopt_totals(ev.venue, {a.asset: a.value for _, a in ev.amounts}, kind=ev.kind)
        elif ev.kind == "reserve":
            self.reserve(ev.ticket_id, ev.leg_id, ev.venue, am["amount"].asset, am["amount"].value)
        elif ev.kind == "release":
            self.release(ev.ticket_id, ev.leg_id, ev.event_id, am["amount"].asset, am["amount"].value)
        elif ev.kind == "release_all":
            self.release_remaining(ev.ticket_id, ev.leg_id, ev.event_id, ev.reason)
        elif ev.kind == "retire":
            self.retire(ev.ticket_id)
        elif ev.kind == "fill":
            allow = ev.reason == "allow_available"
            self.convert_fill(
                ev.ticket_id,
                ev.leg_id,
                ev.event_id,
                spend=am["spend"],
                receive=am["receive"],
                fee=am.get("fee"),
                allow_available=allow,
            )
        else:
            raise ValueError(f"unknown ledger event kind {ev.kind!r}")

    @classmethod
    def replay(cls, events: Iterable[LedgerEvent], sink: Callable[[LedgerEvent], None] | None = None) -> Ledger:
        """A ledger rebuilt from journaled events in their order; ``sink`` receives later changes."""
        ledger = cls()
        for ev in events:
            ledger.apply(ev)
        ledger.set_sink(sink)
        return ledger

    @contextmanager
    def capture(self) -> Iterator[list[LedgerEvent]]:
        """Collect the changes made inside into a list instead of reporting them to the sink: the
        ticket path puts its reservations on disk with the ticket, in one write (journal.stage)."""
        events: list[LedgerEvent] = []
        sink, self._sink = self._sink, events.append
        capturing, self._capturing = self._capturing, True
        try:
            yield events
        finally:
            self._sink = sink
            self._capturing = capturing

    def set_sink(self, sink: Callable[[LedgerEvent], None] | None) -> None:
        """Where later changes are reported (the journal); None stops reporting."""
        self._sink = sink

    # ---- internals --------------------------------------------------------------------------

    def _check_asset(self, asset: Asset) -> None:
        known = self._assets.get(asset.name)
        if known is not None and known != asset:
            raise AssetScaleError(
                f"asset {asset.name} used at {asset.decimals} decimals, registered at {known.decimals}"
            )

    def _register(self, asset: Asset) -> None:
        self._assets.setdefault(asset.name, asset)

    def _check_leg_venue(self, ticket_id: str, leg_id: str, venue: str) -> None:
        known = self._leg_venue.get((ticket_id, leg_id))
        if known is not None and known != venue:
            raise ValueError(f"ticket {ticket_id!r} leg {leg_id!r} is on {known}, not {venue}")

    def _venue_of(self, ticket_id: str, leg_id: str) -> str:
        venue = self._leg_venue.get((ticket_id, leg_id))
        if venue is None:
            raise UnknownReservationError(f"ticket {ticket_id!r} leg {leg_id!r} has no reservation")
        return venue

    def _seen(self, ev: LedgerEvent) -> bool:
        """True when this event id was applied before; EventConflictError when with other content."""
        if not ev.event_id:
            raise ValueError(f"{ev.kind} for {ev.ticket_id}/{ev.leg_id} needs an event id")
        prior = self._applied.get((ev.ticket_id, ev.leg_id, ev.event_id))
        if prior is None:
            return False
        if prior.event != ev:
            raise EventConflictError(
                f"event {ev.event_id!r} of {ev.ticket_id}/{ev.leg_id} was applied as {prior.event}, now {ev}"
            )
        return True

    def _done(self, ev: LedgerEvent, result: FillResult | dict[str, int]) -> None:
        key = (ev.ticket_id, ev.leg_id, ev.event_id)
        self._applied[key] = _Applied(ev, result)
        self._ticket_events.setdefault(ev.ticket_id, []).append(key)
        self._emit(ev)

    def _emit(self, ev: LedgerEvent) -> None:
        self.changes += 1
        if self._sink is not None:
            self._sink(ev)
        watch = self.watch
        if watch is not None:
            names = (
                self._leg_assets.get((ev.ticket_id, ev.leg_id), ())
                if ev.kind == "release_all"
                else {a.asset.name for _, a in ev.amounts}
            )
            for name in names:
                b = self._bal.get((ev.venue, name))
                if b is not None:
                    watch(ev.venue, name, b.total - b.reserved)
