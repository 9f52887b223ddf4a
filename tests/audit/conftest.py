from audit_helpers import devnet, devnet_stack  # noqa: F401 - the fixtures
