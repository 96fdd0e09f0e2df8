"""The Alpaca adapter. The only package that imports alpaca-py, and only when used."""
