"""Compatibility name: the emulator now lives in :mod:`alchemiser_cli.brokers.sim.emulator`."""

from alchemiser_cli.brokers.sim.emulator import AlpacaEmulator, EmulatorThread, serve_forever

__all__ = ["AlpacaEmulator", "EmulatorThread", "serve_forever"]
