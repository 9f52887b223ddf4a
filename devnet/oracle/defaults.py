"""Where the devnet oracle listens unless told otherwise (a module of its own, so the CLI can
show them without importing the app)."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8546
