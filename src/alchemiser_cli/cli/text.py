"""Text that reaches the operator's terminal: never a raw control character.

A plan name, a file name or a broker message may carry escape sequences that would
rewrite the screen (or the log a cron mail carries); they are shown escaped.
"""

from __future__ import annotations


def escape_controls(text: str) -> str:
    """Control and other non-printable characters as Python escapes (newlines kept)."""
    return "".join(ch if ch.isprintable() or ch in " \n" else repr(ch)[1:-1] for ch in text)
