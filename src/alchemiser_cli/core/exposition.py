"""Prometheus text exposition of alch's journal (``alch metrics --prom``).

Every series carries ``account`` (the ``[accounts.NAME]`` a run worked on, ``default``
without one) and ``broker`` (sim, paper, live) labels, so one textfile serves many
accounts and a dashboard never mixes simulated fills with real ones. What one alerts on
first comes first:

- ``alch_last_run_timestamp_seconds``, ``alch_last_run_duration_seconds``,
  ``alch_last_run_exit_code`` and ``alch_last_run_running`` per account, broker and command
  (a cron job that stopped running, got slow, fails, or hangs). A run that ended without
  recording an exit code (marked ``interrupted`` by the next run: killed, out of memory,
  power lost) has exit code -1, so ``alch_last_run_exit_code != 0`` fires for it too; a
  run still marked ``running`` has none, and ``alch_last_run_running`` is 1;
- ``alch_orders{outcome="placed|filled|failed"}``, ``alch_validation_failures``,
  ``alch_fills_by_step{step}`` over the window;
- then the quote, slippage, E/Q and mark-out gauges of :mod:`.metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from alchemiser_cli.core.metrics import Metrics

Group = tuple[str, str]  # (account, broker)


@dataclass(frozen=True, slots=True)
class LastRun:
    account: str
    broker: str
    command: str
    started: datetime  # wall clock
    finished: datetime | None
    exit_code: int | None
    status: str | None = None  # the journal's: running, interrupted, ok, failed, error...

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def reported_exit_code(self) -> int | None:
        """The exit code to expose: the recorded one; -1 for a run that ended without one
        (killed before it could record it); none while the run is still marked running."""
        if self.exit_code is not None:
            return self.exit_code
        return None if self.running or self.status is None else KILLED_EXIT_CODE


#: ``alch_last_run_exit_code`` of a run that ended without recording one (never a real code).
KILLED_EXIT_CODE = -1


def _labels(group: Group, **extra: str) -> str:
    pairs = {"account": group[0], "broker": group[1], **extra}
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(groups: Mapping[Group, Metrics], last_runs: Sequence[LastRun]) -> str:
    lines: list[str] = []

    def family(name: str, help_: str, samples: Sequence[tuple[str, float | None]]) -> None:
        present = [(labels, v) for labels, v in samples if v is not None]
        if not present:
            return
        lines.append(f"# HELP alch_{name} {help_}")
        lines.append(f"# TYPE alch_{name} gauge")
        lines.extend(f"alch_{name}{labels} {_value(value)}" for labels, value in present)

    def by_run(value: float | None, run: LastRun) -> tuple[str, float | None]:
        return _labels((run.account, run.broker), command=run.command), value

    family("last_run_timestamp_seconds", "Unix time the last run of a command started.",
           [by_run(r.started.timestamp(), r) for r in last_runs])
    family("last_run_duration_seconds", "Wall-clock seconds the last run of a command took.",
           [by_run(None if r.finished is None else (r.finished - r.started).total_seconds(), r)
            for r in last_runs])
    family("last_run_exit_code", "Exit code of the last run of a command (see the README); "
           "-1: it ended without recording one (killed).",
           [by_run(None if r.reported_exit_code is None else float(r.reported_exit_code), r)
            for r in last_runs])
    family("last_run_running", "1 while the last run of a command is still marked running.",
           [by_run(1.0 if r.running else 0.0, r) for r in last_runs])

    def each(name: str, help_: str, value: Callable[[Metrics], object]) -> None:
        samples: list[tuple[str, float | None]] = []
        for group, m in sorted(groups.items()):
            got = value(m)
            if isinstance(got, dict):
                samples.extend((_labels(group, **{k: label}), _num(v))
                               for k, pairs in got.items() for label, v in pairs.items())
            else:
                samples.append((_labels(group), _num(got)))
        family(name, help_, samples)

    each("runs", "Runs recorded in the journal.", lambda m: m.runs)
    each("orders", "Orders by outcome: placed (walked), filled (completely), failed.",
         lambda m: {"outcome": {"placed": m.orders, "filled": m.orders_filled,
                                "failed": m.orders - m.orders_filled}})
    each("validation_failures", "Position checks that failed.",
         lambda m: m.validations - m.validations_passed)
    each("validation_pass_ratio", "Share of position checks that passed.",
         lambda m: m.validation_pass_rate)
    each("fills_by_step", "Orders with a fill at each walk step.",
         lambda m: {"step": dict(m.fills_by_step)})
    each("quote_requests", "Quote requests.", lambda m: m.quote_requests)
    each("quote_source_ratio", "Share of quote requests by outcome.",
         lambda m: {"source": {"stream": m.streaming_success_rate, "rest": m.rest_fallback_rate,
                               "unusable": m.unusable_rate}})
    each("quote_problems", "Quotes with a zero side, stale, crossed, too wide.",
         lambda m: {"problem": dict(m.problems)})
    each("seconds_to_fill_median", "Median seconds from arrival to complete fill.",
         lambda m: m.median_seconds_to_fill)
    each("slippage_bps", "Cost against the arrival mid in basis points.",
         lambda m: {"stat": {"mean": m.slippage_bps_mean, "median": m.slippage_bps_median,
                             "notional_weighted": m.slippage_bps_weighted}})
    each("eq", "Mean effective over quoted spread of fills, by walk step.",
         lambda m: {"step": dict(m.eq_by_step)})
    each("markout_bps", "Mean mark-out of fills in bps (negative: adverse), by step.",
         lambda m: {"step": dict(m.markout_bps_by_step)})
    return "\n".join(lines) + "\n"


def _num(value: object) -> float | None:
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def _value(value: float) -> str:
    """Integers as integers, anything else in full (a timestamp must keep its digits)."""
    return str(int(value)) if value == int(value) else repr(value)
