"""`python -m devnet.exchange [--port N ...]`: the exchange simulator in the foreground."""

from devnet.exchange.cli import main

main()
