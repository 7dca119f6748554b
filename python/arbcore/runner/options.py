"""What ``arbcore run`` hands the engine besides the config and the strategy, and the error type
the engine raises for anything the user caused."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UserError(Exception):
    """Something the user can fix (unreachable venue, missing file, bad value): the CLI prints
    ``arbcore run: <message>`` as one line on stderr and exits 2, without a traceback. Keep the
    message to one line and never put a secret in it."""


@dataclass(frozen=True)
class RunOptions:
    """``arbcore run``'s options, resolved: command-line flags over the config's ``[run]`` table."""

    config_path: Path | None  # None: the embedded default
    duration_s: float | None  # None: until Ctrl-C
    metrics_port: int | None  # None: no metrics server
    journal: Path  # the SQLite journal to write
    report_dir: Path  # report.json and plots at exit
    #: True: the live dashboard when stdout is a TTY, plain lines otherwise
    #: (``Dashboard(live=None)``); False (``--no-dashboard``): plain lines always (``Dashboard(live=False)``)
    dashboard: bool
    seed: int
