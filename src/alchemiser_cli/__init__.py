"""alch: rebalance an Alpaca portfolio by walking the book."""

__version__ = "0.1.0"
