"""Which market-data feed to use: ``iex``, ``sip`` or ``auto``.

``auto`` (the default) uses SIP, the consolidated book, when the account's subscription
allows it, and otherwise IEX with a one-time warning that quotes come from IEX's book
only. Without SIP, a REST request with ``feed=sip`` answers 403 "subscription does not
permit querying recent SIP data" (docs.alpaca.markets/docs/market-data-faq) and the
``/v2/sip`` stream answers error 409 "insufficient subscription" (alpaca-docs
realtime.md); both are probed the same way here, through one latest-quote request.
"""

from __future__ import annotations

from dataclasses import dataclass

FEEDS = ("iex", "sip")
IEX_WARNING = ("quotes come from IEX's book only (the account has no SIP subscription); "
               "set feed = \"iex\" to accept that and silence this warning")


@dataclass(frozen=True, slots=True)
class FeedAccess:
    feed: str
    usable: bool
    detail: str
    refused: bool = False  # the broker said the subscription does not include it


def stream_url(override: str | None, feed: str) -> str | None:
    """Point an overridden stream URL at ``feed`` when it names one (``.../v2/iex``)."""
    if override is None:
        return None
    head, _, last = override.rstrip("/").rpartition("/")
    return f"{head}/{feed}" if last in FEEDS else override


def refused_sip(status: int | None, message: str) -> bool:
    return status == 403 and "subscription" in message.lower()
