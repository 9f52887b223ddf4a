"""`workers.allocator.fix_mmap_threshold`: a large block freed once does not move the next
ones of its size into the heap (glibc's dynamic mmap threshold, which fragmented the ops
worker's heap as open positions grew; see bench/)."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import ctypes, json, sys
from workers.allocator import fix_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
fixed = fix_mmap_threshold() if sys.argv[1] == "fixed" else False
block = bytearray(1 << 20)
del block  # a 1 MiB block, mapped and given back: by default the threshold rises to 1 MiB
block = bytearray(1 << 20)
print(json.dumps({"fixed": fixed, "mapped": libc.mallinfo2().hblkhd}))
"""


def _glibc_has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL("libc.so.6"), "mallinfo2")
    except OSError:
        return False


def _probe(mode: str) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    result: dict[str, int] = json.loads(done.stdout)
    return result


pytestmark = pytest.mark.skipif(not _glibc_has_mallinfo2(), reason="glibc only")


def test_a_large_block_stays_in_its_own_mapping_once_the_threshold_is_fixed() -> None:
    result = _probe("fixed")
    assert result["fixed"]
    assert result["mapped"] >= 1 << 20


def test_by_default_glibc_moves_it_into_the_heap() -> None:
    """The behaviour the fix is for; if a glibc stops doing this, the fix can go."""
    assert _probe("default")["mapped"] < 1 << 20


def test_an_operators_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.allocator import fix_mmap_threshold

    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert fix_mmap_threshold() is False
