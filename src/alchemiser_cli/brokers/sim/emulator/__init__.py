"""An Alpaca-compatible server on loopback in front of the simulator.

REST ``/v2/...`` with Alpaca's JSON shapes, headers and error bodies (one module per
resource), the msgpack market-data WebSocket and the ``trade_updates`` WebSocket, so the
real alpaca-py clients (and the legacy alpaca-trade-api) run against it end to end.
``/_sim/...`` (module ``admin``) inspects and steers it.
"""

from alchemiser_cli.brokers.sim.emulator.app import AlpacaEmulator
from alchemiser_cli.brokers.sim.emulator.runner import EmulatorThread, serve_forever

__all__ = ["AlpacaEmulator", "EmulatorThread", "serve_forever"]
