"""How alch names its runs and orders, and how to read a name back.

A run id is ``YYMMDDHHMMSS`` + a three-character installation tag + a three-digit
counter, e.g. ``261124150000k3f007``. The installation tag is fixed per journal and
host, so it says *where* a run ran: two machines (or two data directories) sharing
one account never produce the same tag, and an order's client_order_id
(``alch-<run id>-<SYMBOL>-<step>``) tells whether it belongs to this installation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OUR_PREFIX = "alch-"
#: Alpaca allows 128 characters; the older documented limit of 48 is kept as a margin.
MAX_CLIENT_ORDER_ID = 48
RUN_ID_LENGTH = 18
RUN_ID_RE = re.compile(r"^\d{12}[a-z0-9]{3}\d{3}$")


def installation_of(run_id: str) -> str:
    """The installation tag inside a run id."""
    return run_id[12:15]


def client_order_id_base(run_id: str, symbol: str) -> str:
    """``alch-<run>-<SYMBOL>``; each order of the walk appends its own step label."""
    base = f"{OUR_PREFIX}{run_id}-{symbol.replace('/', '_')}"
    if len(base) + 2 > MAX_CLIENT_ORDER_ID:
        raise ValueError(f"client_order_id for {symbol} would exceed {MAX_CLIENT_ORDER_ID} chars")
    return base


def run_prefix(run_id: str) -> str:
    """Every client_order_id of this run starts with this."""
    return f"{OUR_PREFIX}{run_id}-"


@dataclass(frozen=True, slots=True)
class OrderTag:
    """What a client_order_id says about the run that placed it."""

    run_id: str
    symbol: str

    @property
    def installation(self) -> str:
        return installation_of(self.run_id)


def parse_client_order_id(client_order_id: str) -> OrderTag | None:
    """The run behind an alch client_order_id; None for anything alch did not name."""
    if not client_order_id.startswith(OUR_PREFIX):
        return None
    rest = client_order_id[len(OUR_PREFIX):]
    run_id, sep, tail = rest[:RUN_ID_LENGTH], rest[RUN_ID_LENGTH:RUN_ID_LENGTH + 1], \
        rest[RUN_ID_LENGTH + 1:]
    if sep != "-" or not RUN_ID_RE.match(run_id):
        return None
    symbol = tail.split("-", 1)[0]
    if not symbol:
        return None
    return OrderTag(run_id, symbol)
