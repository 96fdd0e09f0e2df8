"""A simulated account on disk, edited as another process would: its state file, positions,
open orders, and the journal's installation tag (for the hostile-operator and crash tests)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from alchemiser_cli.domain.events import OrderAccepted, OrderSubmitting, RunStarted
from alchemiser_cli.journal.store import Journal


def state_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sim" / "state.json"


def state(tmp_path: Path) -> dict:
    return json.loads(state_path(tmp_path).read_text())


def positions(tmp_path: Path) -> dict[str, Decimal]:
    return {k: Decimal(v["qty"]) for k, v in state(tmp_path)["positions"].items()}


def open_orders(tmp_path: Path) -> list[dict]:
    return [o for o in state(tmp_path)["orders"].values()
            if o["status"] not in {"filled", "canceled", "rejected", "expired"}]


def add_open_order(tmp_path: Path, cid: str, symbol: str, side: str, qty: str, limit: str,
                   *, age_minutes: float = 0, filled: str = "0") -> None:
    """Put a resting limit order on the simulated account, as another process would."""
    s = state(tmp_path)
    created = (datetime.fromisoformat(s["now"]) - timedelta(minutes=age_minutes)).isoformat()
    oid = f"00000000-0000-4000-8000-{len(s['orders']) + 1:012d}"
    s["orders"][oid] = {"id": oid, "client_order_id": cid, "symbol": symbol, "side": side,
                        "type": "limit", "qty": qty, "limit_price": limit,
                        "status": "partially_filled" if filled != "0" else "new",
                        "filled_qty": filled, "filled_notional": str(Decimal(filled) *
                                                                     Decimal(limit)),
                        "created_at": created, "updated_at": created, "reject_reason": None}
    state_path(tmp_path).write_text(json.dumps(s))


def installation(tmp_path: Path) -> str:
    journal = Journal(tmp_path / "data" / "journal.sqlite3")
    try:
        return journal.installation_id()
    finally:
        journal.close()


AT = datetime.fromisoformat("2026-11-24T14:50:00+00:00")


def crashed_run(tmp_path: Path, *, host: str, symbol: str = "MSFT", qty: str = "5",
                seq: int = 1) -> str:
    """Journal a place run that died (kill -9) right after its order was accepted, as the
    run itself would have: returns the order's client_order_id."""
    journal = Journal(tmp_path / "data" / "journal.sqlite3", host=host, account_key="sim")
    try:
        run_id = f"261124145000{journal.installation_id()}{seq:03d}"
        cid = f"alch-{run_id}-{symbol}-1"
        journal(RunStarted(run_id, "place", "sim", AT, None))
        journal(OrderSubmitting(client_order_id=cid, symbol=symbol, side="buy",
                                order_type="limit", qty=Decimal(qty),
                                limit_price=Decimal("300.00"), step=1, ratio=Decimal("0.75"),
                                bid=Decimal("299.99"), ask=Decimal("300.01"), at=AT))
        journal(OrderAccepted(cid, symbol, "00000000-0000-4000-8000-000000000901", "new", AT))
    finally:
        journal.close()
    return cid
