"""Session fixtures that start the real local parts once, on free ports, in a temp dir.

Each part starts lazily, only when a test asks for it, and stops at the end of the session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devnet.stack.anvil import Anvil, start_anvil
from devnet.stack.process import free_port


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def anvil(stack_dir: Path) -> Iterator[Anvil]:
    """A fresh anvil chain (chain id 31337) on a free port; `.http_url`, `.ws_url`, `.rpc()`."""
    node = start_anvil(port=free_port(), state_dir=stack_dir / "anvil", persist=False)
    try:
        yield node
    finally:
        node.stop()
