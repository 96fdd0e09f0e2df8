"""A small client for a running emulator's ``/_sim`` routes (``alch sim ... --url``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from alchemiser_cli.domain.errors import BrokerUnavailableError, UsageError


class EmulatorControl:
    def __init__(self, url: str, timeout: float = 5.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--url must be an http:// URL of a running emulator, not {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            f"{self.url}{path}", data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message", str(exc))
            except ValueError:
                message = str(exc)
            raise UsageError(f"the emulator at {self.url} refused: {message}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BrokerUnavailableError(
                f"cannot reach an emulator at {self.url}: {reason}") from None

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/_sim/state")
        return result

    def faults(self, items: list[str], *, clear: bool) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", "/_sim/faults", {"set": items, "clear": clear})
        return result

    def reset(self, *, seed: int | None, cash: str | None, empty: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"empty": empty}
        if seed is not None:
            body["seed"] = seed
        if cash is not None:
            body["cash"] = cash
        result: dict[str, Any] = self._call("POST", "/_sim/reset", body)
        return result

    def log(self, limit: int) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call("GET", f"/_sim/log?limit={limit}")
        return result
