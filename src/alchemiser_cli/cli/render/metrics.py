"""`alch metrics`: rates, counters and fills per walk step, as (name, value) rows."""

from __future__ import annotations

from typing import Any

from alchemiser_cli.cli.render.formats import fmt, ratio


def metric_rows(m: Any) -> list[tuple[str, str]]:
    return [
        ("runs", str(m.runs)),
        ("quote requests", str(m.quote_requests)),
        ("streaming success rate", ratio(m.streaming_success_rate)),
        ("REST fallback rate", ratio(m.rest_fallback_rate)),
        ("unusable quote rate", ratio(m.unusable_rate)),
        *[(f"quotes {k.replace('_', ' ')}", str(v)) for k, v in m.problems.items()],
        ("orders (filled)", f"{m.orders} ({m.orders_filled})"),
        ("median time to fill", "-" if m.median_seconds_to_fill is None
         else f"{m.median_seconds_to_fill:g}s"),
        ("slippage bps (mean / median)", f"{fmt(m.slippage_bps_mean)} / "
         f"{fmt(m.slippage_bps_median)}"),
        ("slippage bps (notional-weighted)", fmt(m.slippage_bps_weighted)),
        ("validation pass rate", f"{ratio(m.validation_pass_rate)} of {m.validations}"),
        ("E/Q by step", ", ".join(f"{k}={fmt(v)}" for k, v in m.eq_by_step.items()) or "-"),
        (f"mark-out bps by step ({'/'.join(f'{h:g}s' for h in m.markout_seconds) or '-'})",
         ", ".join(f"{k}={fmt(v)}" for k, v in m.markout_bps_by_step.items()) or "-"),
    ]
