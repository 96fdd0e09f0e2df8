"""What a broker endpoint setting must look like (``trading_url``, ``data_url``,
``data_stream_url``, ``trading_stream_url``, top-level or per account).

A URL without a scheme or a host is refused when the settings load (a configuration error,
exit 3), instead of failing at the first request as an unreachable broker (exit 4).
"""

from __future__ import annotations

from urllib.parse import urlsplit

REST_SCHEMES = ("http", "https")
STREAM_SCHEMES = ("ws", "wss")
#: The settings that name a WebSocket; the other endpoint settings are REST base URLs.
STREAM_FIELDS = frozenset({"data_stream_url", "trading_stream_url"})


def check_endpoint_url(field: str, value: str | None) -> str | None:
    """``value`` if it is a URL of the kind ``field`` needs (http/https for REST, ws/wss for
    a stream) with a host; otherwise ValueError saying what is expected."""
    if value is None:
        return None
    schemes = STREAM_SCHEMES if field in STREAM_FIELDS else REST_SCHEMES
    try:
        parts = urlsplit(value)
        ok = parts.scheme.lower() in schemes and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:  # an unbalanced [IPv6] bracket, a port that is not a number
        ok = False
    if not ok:
        shown = value if len(value) <= 80 else value[:77] + "..."
        article = "a" if field in STREAM_FIELDS else "an"
        raise ValueError(f"{shown!r} is not {article} {schemes[0]}:// or {schemes[1]}:// URL with "
                         "a host")
    return value
