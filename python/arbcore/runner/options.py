"""What ``arbcore run`` hands the engine besides the config and the strategy, and the error type
the engine raises for anything the user caused."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from types import FrameType


class UserError(Exception):
    """Something the user can fix (unreachable venue, missing file, bad value): the CLI prints
    ``arbcore run: <message>`` as one line on stderr and exits 2, without a traceback. Keep the
    message to one line and never put a secret in it."""


class StartInterruptedError(Exception):
    """Ctrl-C or SIGTERM while the engine was starting: it stopped there, before any ticket, with
    what the start had opened closed and no report. The CLI prints ``arbcore run: <message>`` as
    one line on stderr and exits 128 + the signal's number (130, 143), as a shell reports a
    command the signal ended. (Once the engine runs, a signal stops it as usual: report, status 0.)"""

    def __init__(self, sig: signal.Signals) -> None:
        super().__init__(f"stopped by {sig.name} while starting: no ticket taken, no report written")
        self.exit_status = 128 + sig


class EarlyKill:
    """SIGUSR1 (``arbcore kill --pid``) caught from the command's first line until the engine's
    loop handles it: its default action ends the process, so one during the start (config,
    imports, venues connecting) ended the engine with no report. The engine engages its kill
    switch once started if one came (:attr:`reason`)."""

    def __init__(self) -> None:
        self.reason = ""

    @classmethod
    def install(cls) -> EarlyKill:
        early = cls()
        signal.signal(signal.SIGUSR1, early._caught)
        return early

    def _caught(self, signum: int, frame: FrameType | None) -> None:
        self.reason = "SIGUSR1 (while starting)"


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
    early_kill: EarlyKill | None = None  # a SIGUSR1 before the engine's loop handles it
    record: Path | None = None  # the session's recording (``--record``, ``[run] record``), or None
