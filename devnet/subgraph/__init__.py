"""A local stand-in for SYMMIO's `events` subgraph: indexes our contract's logs from anvil and
serves the module's GraphQL schema on 127.0.0.1 (`hedger devnet subgraph`)."""
