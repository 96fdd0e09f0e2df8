"""alch on a real pseudo-terminal (pexpect), its screen rendered by a terminal emulator
(pyte), so tests assert on what an operator sees at a given width."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pexpect
import pyte


class Term:
    def __init__(self, *args: str, env: Mapping[str, str], cwd: Path, columns: int = 80,
                 lines: int = 60) -> None:
        full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
        full.update({"TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(lines),
                     **env})
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = b""
        self.child = pexpect.spawn(sys.executable, ["-m", "alchemiser_cli", *args], env=full,
                                   cwd=str(cwd), dimensions=(lines, columns))

    def pump(self, seconds: float = 0.1) -> bool:
        """Read what alch wrote for up to ``seconds``; False once it has exited."""
        try:
            data = self.child.read_nonblocking(1 << 16, timeout=seconds)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display).strip("\n")

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text(), re.M)
            if found:
                return found
            if not self.pump(0.1):
                break
        raise AssertionError(f"{pattern!r} not on the screen:\n{self.text()}")

    def send(self, text: str) -> None:
        self.child.send(text)

    def interrupt(self) -> None:
        self.child.sendintr()

    def finish(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self.pump(0.2):
            if time.monotonic() > deadline:
                self.child.terminate(force=True)
                raise AssertionError(f"alch did not exit:\n{self.text()}")
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None
                   else 128 + (self.child.signalstatus or 0))
