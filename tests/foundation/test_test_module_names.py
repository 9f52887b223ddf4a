"""Test modules outside packages must have unique basenames, or pytest refuses to collect the suite."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_rootless_test_modules_have_unique_names() -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if "__pycache__" in path.parts or (path.parent / "__init__.py").exists():
            continue
        if path.name == "conftest.py" or path.parent == TESTS:
            continue
        seen[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not clashes, f"test modules share a basename (pytest's prepend import mode): {clashes}"
