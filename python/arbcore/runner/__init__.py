"""The ``arbcore run`` runner around the engine.

- :mod:`~arbcore.runner.config`: the TOML configuration (``load_config``, ``load_default``).
- :mod:`~arbcore.runner.plugins`: strategy plug-ins (``Strategy``, ``TicketProposal``,
  ``load_strategy`` -> ``StrategyHost``); builtins in :mod:`~arbcore.runner.strategies`.
- :mod:`~arbcore.runner.dashboard`: the rich live dashboard / plain lines from a ``DashboardState``;
  :mod:`~arbcore.runner.snapshot` builds that state from books, feed clients and balances.
- :mod:`~arbcore.runner.metrics`: Prometheus metrics served on 127.0.0.1.
- :mod:`~arbcore.runner.report`: reports from a journal (terminal, JSON, PNG plots).
- :mod:`~arbcore.runner.options`: ``RunOptions`` handed to the engine, ``UserError``.
- :mod:`~arbcore.runner.commands`: the runner's `arbcore` commands (run, check-config, report, journal, kill).

Submodules are imported on demand (rich and matplotlib load only when used).
"""
