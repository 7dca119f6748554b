"""The ``arbcore`` command."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from arbcore.runner.commands import (
    EPILOG,
    add_runner_commands,
    cmd_check_config,
    cmd_journal,
    cmd_kill,
    cmd_report,
    cmd_run,
)

#: `--venue` names: the feed-client specs of `arbcore.venues.CLIENT_SPECS` (one per protocol;
#: Binance is two, spot and USD-M). A recording names its feeds by them, `replay --venue` too.
VENUE_HELP = "bybit, binance_spot, binance_usdm, okx, kraken, coinbase"

#: venue name -> simulator class in `arbcore.sim` and its keyword arguments, loaded lazily (a venue
#: without one cannot `--sim`); KrakenSim also gets the symbols' venue precisions
SIM_CLASSES: dict[str, tuple[str, dict[str, Any]]] = {
    "bybit": ("BybitSim", {}),
    "binance_spot": ("BinanceSim", {"market": "spot"}),
    "binance_usdm": ("BinanceSim", {"market": "usdm"}),
    "okx": ("OkxSim", {}),
    "kraken": ("KrakenSim", {}),
    "coinbase": ("CoinbaseSim", {}),
}

SymbolArg = tuple[str, str, int, int, str | None, str | None]


def _symbol_arg(text: str) -> SymbolArg:
    """SYMBOL=BASE/QUOTE:PRICE_DECIMALS:QTY_DECIMALS[:TICK:LOT]"""
    try:
        sym, rest = text.split("=", 1)
        parts = rest.split(":")
        inst, pd, qd = parts[0], int(parts[1]), int(parts[2])
        tick = parts[3] if len(parts) > 3 else None
        lot = parts[4] if len(parts) > 4 else None
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected SYMBOL=BASE/QUOTE:PRICE_DECIMALS:QTY_DECIMALS[:TICK:LOT]"
        ) from None
    return sym, inst, pd, qd, tick, lot


def _precision_arg(text: str) -> tuple[str, tuple[int, int]]:
    """SYMBOL=PRICE_PRECISION:QTY_PRECISION"""
    try:
        sym, rest = text.split("=", 1)
        p, q = (int(x) for x in rest.split(":"))
        if not sym or not (0 <= p <= 18 and 0 <= q <= 18):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected SYMBOL=PRICE_PRECISION:QTY_PRECISION, each 0 to 18"
        ) from None
    return sym, (p, q)


def _smallest(decimals: int) -> str:
    return "1" if decimals == 0 else "0." + "0" * (decimals - 1) + "1"


def _feed_spec(
    venue: str,
    protocol: str,
    symbols: list[SymbolArg],
    precisions: list[tuple[str, tuple[int, int]]],
    depth: int = 10,
) -> object:
    """The recording header's feed; a symbol's venue precision defaults to its decimals (what the
    Kraken decoder assumes without one). Raises ValueError for a precision of an unknown symbol."""
    from arbcore.record import FeedSpec, SymbolSpec

    given = dict(precisions)
    unknown = sorted(set(given) - {sym for sym, *_ in symbols})
    if unknown:
        raise ValueError(f"--precision {', '.join(unknown)}: not a --symbol")
    specs = {
        sym: SymbolSpec(inst, pd, qd, tick or _smallest(pd), lot or _smallest(qd), given.get(sym, (pd, qd)))
        for sym, inst, pd, qd, tick, lot in symbols
    }
    return FeedSpec(venue, protocol, specs, depth)


def _check_precisions(command: str, protocol: str, precisions: list[tuple[str, tuple[int, int]]]) -> bool:
    if precisions and protocol != "kraken":
        print(
            f"arbcore {command}: --precision is for kraken only (its checksum covers the digits the venue prints)",
            file=sys.stderr,
        )
        return False
    return True


def cmd_replay(args: argparse.Namespace) -> int:  # noqa: PLR0911
    import orjson

    from arbcore.record import FeedSpec, RecordingError
    from arbcore.replay import replay, replay_raw

    path = Path(args.file)
    if not path.exists():
        print(f"arbcore replay: {path}: no such file", file=sys.stderr)
        return 2
    try:
        if args.raw:
            if args.venue is None:
                print("arbcore replay: --raw needs --venue", file=sys.stderr)
                return 2
            if not args.symbol:
                print("arbcore replay: --raw needs at least one --symbol", file=sys.stderr)
                return 2
            if not _check_precisions("replay", args.raw, args.precision):
                return 2
            spec = _feed_spec(args.venue, args.raw, args.symbol, args.precision)
            assert isinstance(spec, FeedSpec)
            summary = replay_raw(path, spec, args.top)
        elif args.venue is None:
            return _replay_engine(path)
        else:
            summary = replay(path, args.venue, args.top)
    except (RecordingError, ValueError) as e:
        print(f"arbcore replay: {e}", file=sys.stderr)
        return 2
    if summary["truncated"] is not None:
        # what a killed recorder leaves: the frames before the cut are good, so their summary
        # is printed and the exit status is 0; the summary's "truncated" says the same
        print(
            f"arbcore replay: warning: {path}: cut short at {summary['truncated']}; "
            "the summary covers the frames before it",
            file=sys.stderr,
        )
    sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _replay_engine(path: Path) -> int:
    """`arbcore replay FILE` of an engine recording: exit 0 when every decision replays identical,
    1 on any mismatch, 2 for a file that is not an engine recording."""
    import orjson

    from arbcore.engine_replay import replay_engine
    from arbcore.record import RecordingError, read_recording

    try:
        rec = read_recording(path)
        rec.frames.close()
        if rec.engine is None:
            names = ", ".join(f.venue for f in rec.feeds) or "none"
            print(f"arbcore replay: {path}: a single feed's recording: give --venue ({names})", file=sys.stderr)
            return 2
        summary = replay_engine(path)
    except RecordingError as e:
        print(f"arbcore replay: {e}", file=sys.stderr)
        return 2
    if summary["truncated"] is not None:
        print(f"arbcore replay: warning: {path}: cut short at {summary['truncated']}; "
              "the summary covers the lines before it", file=sys.stderr)  # fmt: skip
    sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n")
    return 0 if summary["identical"] else 1


def _url_error(option: str, url: str, schemes: tuple[str, ...]) -> str | None:
    """Why `url` is not a URL of one of `schemes` with a host, or None."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        ok = parts.scheme in schemes and bool(parts.hostname)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number 0..65535)
    except ValueError:
        ok = False
    if ok:
        return None
    return f"{option} {url!r}: not a URL with a host and the scheme {' or '.join(schemes)}"


def cmd_record(args: argparse.Namespace) -> int:  # noqa: PLR0911
    import uvloop

    from arbcore.record import FeedSpec, Recorder
    from arbcore.replay import build_books
    from arbcore.venues import CLIENT_SPECS

    client_spec = CLIENT_SPECS.get(args.venue)
    if client_spec is None:
        print(
            f"arbcore record: venue {args.venue!r}: known venues are {', '.join(sorted(CLIENT_SPECS))}", file=sys.stderr
        )
        return 2
    if not args.symbol:
        print("arbcore record: at least one --symbol is needed", file=sys.stderr)
        return 2
    if not args.sim and not args.url:
        print(
            "arbcore record: give --url (a venue's WebSocket URL) or --sim (a local simulated venue)", file=sys.stderr
        )
        return 2
    if args.sim and args.venue not in SIM_CLASSES:
        print(f"arbcore record: no simulator for {args.venue!r}", file=sys.stderr)
        return 2
    if not args.sim:
        why = _url_error("--url", args.url, ("ws", "wss"))
        if why is None and args.rest_url is not None:
            why = _url_error("--rest-url", args.rest_url, ("http", "https"))
        if why is not None:
            print(f"arbcore record: {why}", file=sys.stderr)
            return 2
    if not _check_precisions("record", client_spec.feed_protocol, args.precision):
        return 2
    try:
        # the header keeps the decoder settings, so replay decodes exactly as the live client did
        spec = _feed_spec(
            args.venue, client_spec.feed_protocol, args.symbol, args.precision, client_spec.feed_kwargs.get("depth", 10)
        )
        assert isinstance(spec, FeedSpec)
        built = build_books(spec)  # the books refuse bad decimals, instruments and grids: before any connection
    except ValueError as e:
        print(f"arbcore record: {e}", file=sys.stderr)
        return 2
    try:
        recorder = Recorder(Path(args.out), [spec])
    except OSError as e:
        print(f"arbcore record: --out {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    return uvloop.run(_record(args, client_spec, spec, built, recorder))


async def _record(args: argparse.Namespace, client_spec: object, spec: object, built: object, recorder: object) -> int:
    """Records until --duration is over, SIGINT or SIGTERM, or a write fails; closes `recorder`
    whatever happens. `built` is build_books(spec)."""
    import asyncio
    import contextlib
    import signal
    import time

    import arbcore.sim as sim_mod
    from arbcore.feed_client import FeedClient
    from arbcore.record import FeedSpec, Recorder
    from arbcore.venues.base import VenueClientSpec
    from arbcore.venues.shown_url import shown_url

    assert isinstance(spec, FeedSpec) and isinstance(client_spec, VenueClientSpec) and isinstance(recorder, Recorder)
    assert isinstance(built, tuple)
    books, symbols, precisions = built
    sim = None
    url, rest_url = args.url, args.rest_url
    # Ctrl-C and SIGTERM (a service manager's stop) end the recording as --duration does: the
    # file is closed whole. (SIGTERM's default ended the process with up to a second unflushed
    # and the file cut short.)
    stop = asyncio.Event()
    stopped_by: list[str] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        stopped_by.append(sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    t0 = time.monotonic()  # (from the connection on, below)
    try:
        if args.sim:
            cls_name, kwargs = SIM_CLASSES[args.venue]
            if cls_name == "KrakenSim":
                kwargs = {**kwargs, "precisions": precisions}  # it prints the digits the checksum covers
            sim = sim_mod.SimVenue(getattr(sim_mod, cls_name)(**kwargs), _sim_instruments(spec), seed=args.seed)
            await sim.start()
            url, rest_url = sim.ws_url, sim.rest_url
        # the decoder settings replay uses (the header's precisions; only Kraken's decoder reads them)
        client = FeedClient(
            client_spec,
            url,
            books,
            symbols,
            rest_url=rest_url,
            recorder=recorder,
            feed_kwargs={"precisions": precisions},
        )
        task = loop.create_task(client.run())
        print(f"recording {args.venue} from {shown_url(url)} to {args.out} for {args.duration:g} s", file=sys.stderr)
        t0 = time.monotonic()
        end = t0 + args.duration
        try:
            while (left := end - time.monotonic()) > 0.002 and not stop.is_set():  # (a timer may fire early)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(1.0, left))
                c = client.counters()
                states = ",".join(books[i].state_name(v) for i, v in symbols.values())
                print(
                    f"  {time.monotonic() - t0:5.1f}s frames={c['frames']} bytes={c['bytes']} books={states}",
                    file=sys.stderr,
                )
                if recorder.error is not None:
                    break
        finally:
            client.stop()
            await asyncio.wait_for(task, 5)
    finally:
        recorder.close()
        if sim is not None:
            await sim.stop()
    if recorder.error is not None:
        # a full disk, a file size limit: what was flushed before it replays (up to the cut)
        print(
            f"arbcore record: --out {args.out}: writing failed after {time.monotonic() - t0:.1f} s: "
            f"{recorder.error}; the file replays up to its last flush",
            file=sys.stderr,
        )
        return 2
    if client.conn_id == 0 and recorder.frames == 0:
        # never connected in the whole --duration (a drop mid-recording is retried and is not this):
        # the file holds only the header, and is removed so that no empty recording is left
        why = client.errors[-1].removeprefix("connect: ") if client.errors else "no connection"
        out = Path(args.out)
        # only a file of its own: an --out of /dev/null was unlinked (by root: the device gone)
        removed = out.is_file() and not out.is_symlink()
        if removed:
            out.unlink()
        gone = f", {out} removed" if removed else ""
        print(f"arbcore record: cannot connect to {shown_url(url)}: {why}; nothing recorded{gone}", file=sys.stderr)
        return 2
    if stopped_by:
        print(f"stopped by {stopped_by[0]} after {time.monotonic() - t0:.1f} s", file=sys.stderr)
    print(f"wrote {recorder.frames} frames to {args.out}", file=sys.stderr)
    return 0


def _sim_instruments(spec: object) -> list[Any]:
    """One simulated instrument per symbol, on the symbol's tick and lot grids (coarsened to its
    venue precision where that is coarser), around 60000."""
    from decimal import Decimal
    from math import lcm

    from arbcore.record import FeedSpec
    from arbcore.sim import SimInstrument

    assert isinstance(spec, FeedSpec)
    out = []
    for sym, s in spec.symbols.items():
        pd, qd = s.price_decimals, s.qty_decimals
        tick = max(1, int(Decimal(s.tick_size).scaleb(pd)))
        lot = max(1, int(Decimal(s.lot_size).scaleb(qd)))
        if s.precision is not None:
            tick = lcm(tick, 10 ** max(0, pd - s.precision[0]))
            lot = lcm(lot, 10 ** max(0, qd - s.precision[1]))
        out.append(SimInstrument(sym, pd, qd, tick=tick, lot=lot, mid=60_000 * 10**pd))
    return out


# ---- runner: check-config, run, report, journal ----------------------------------------------


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("arbcore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `arbcore journal J | head`
        return 0


def _main(argv: list[str] | None = None) -> int:  # noqa: PLR0911
    parser = argparse.ArgumentParser(
        prog="arbcore",
        description="Cross-exchange execution engine: exact multi-venue books, opportunity detection, execution.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_runner_commands(sub)

    demo = sub.add_parser("demo", help="build three venues' books from a seeded stream and print opportunities")
    demo.add_argument("--steps", type=int, default=3000, help="number of quote updates per venue (default 3000)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument("--show", type=int, default=12, help="opportunity records to print (default 12)")

    sym_help = (
        "SYMBOL=BASE/QUOTE:PRICE_DECIMALS:QTY_DECIMALS[:TICK:LOT], the venue symbol and the engine's"
        " instrument and scales (TICK and LOT default to one unit of the last decimal), e.g."
        " BTCUSDT=BTC/USDT:2:6 (repeatable)"
    )
    prec_help = (
        "SYMBOL=PRICE_PRECISION:QTY_PRECISION, kraken only: the decimals Kraken prints for SYMBOL's prices"
        " and quantities (AssetPairs pair_decimals/lot_decimals), which its book checksum covers, e.g."
        " BTC/USD=1:8; default: the symbol's PRICE_DECIMALS:QTY_DECIMALS (repeatable)"
    )
    rec = sub.add_parser("record", help="record a venue's raw frames with receive times to a .jsonl.gz file")
    rec.add_argument("--venue", required=True, help=f"venue: {VENUE_HELP}")
    rec.add_argument("--symbol", action="append", type=_symbol_arg, default=[], help=sym_help)
    rec.add_argument(
        "--precision",
        action="append",
        type=_precision_arg,
        default=[],
        help=prec_help + "; kept in the recording, so replay verifies with the same",
    )
    rec.add_argument("--url", help="the venue's WebSocket URL")
    rec.add_argument("--rest-url", help="the venue's REST base URL (venues that sync from REST snapshots)")
    rec.add_argument("--sim", action="store_true", help="record from a local simulated venue on loopback")
    rec.add_argument("--seed", type=int, default=1, help="simulator seed (with --sim)")
    rec.add_argument("--duration", type=float, default=10.0, help="seconds to record (default 10)")
    rec.add_argument("--out", required=True, help="output file (.jsonl.gz)")

    rep = sub.add_parser(
        "replay",
        help="run a recording through the decoders (and an engine's through its detection) and print a JSON summary",
        description=(
            "With --venue: one recorded venue's frames through its decoder, the books at the end.\n"
            "Without (a recording of `arbcore run --record`): every venue's frames, book events and\n"
            "balances through the engine's consolidated books, the detection run again where the engine\n"
            "ran it and compared; exit 0 when identical, 1 on any mismatch (the first ones are listed)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument(
        "--venue",
        help=f"which recorded venue to replay ({VENUE_HELP}; an engine recording's: its config's venue names)",
    )
    rep.add_argument("--top", type=int, default=10, help="levels per side in the summary (default 10)")
    rep.add_argument(
        "--raw",
        metavar="PROTOCOL",
        help=f"FILE is a plain capture (one frame per line) in this protocol ({VENUE_HELP})",
    )
    rep.add_argument("--symbol", action="append", type=_symbol_arg, default=[], help=sym_help + " (with --raw)")
    rep.add_argument("--precision", action="append", type=_precision_arg, default=[], help=prec_help + " (with --raw)")
    rep.add_argument("file", help="recording (.jsonl.gz) or, with --raw, a plain capture")

    args = parser.parse_args(argv)
    if args.command == "demo":
        from arbcore.demo import run_demo

        if args.steps < 1:
            parser.error("--steps must be at least 1")
        if args.seed < 0:
            parser.error("--seed must be at least 0")  # (numpy's generator refuses a negative seed)
        return run_demo(steps=args.steps, seed=args.seed, show=args.show)
    if args.command == "record":
        if not (math.isfinite(args.duration) and args.duration > 0):  # (a `<= 0` test lets nan through)
            parser.error("--duration must be a positive number of seconds")
        return cmd_record(args)
    if args.command == "replay":
        if args.top < 0:  # (the books refused it once the whole file was replayed: "n -1: out of range")
            parser.error("--top must be at least 0")
        return cmd_replay(args)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "check-config":
        return cmd_check_config(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "journal":
        return cmd_journal(args)
    if args.command == "kill":
        return cmd_kill(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
