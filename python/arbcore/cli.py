"""The ``arbcore`` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="arbcore", description="Cross-exchange execution engine (core demo until the runner lands)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build three venues' books from a seeded stream and print opportunities")
    demo.add_argument("--steps", type=int, default=3000, help="number of quote updates per venue (default 3000)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    demo.add_argument("--show", type=int, default=12, help="opportunity records to print (default 12)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from arbcore.demo import run_demo

        if args.steps < 1:
            parser.error("--steps must be at least 1")
        return run_demo(steps=args.steps, seed=args.seed, show=args.show)
    return 2


if __name__ == "__main__":
    sys.exit(main())
