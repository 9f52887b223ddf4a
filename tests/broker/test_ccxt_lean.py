"""`adapters.broker.ccxt_lean` loads one ccxt exchange, and ccxt still behaves as ccxt.

Each check runs in a fresh interpreter: the lean load only happens before ccxt is imported,
and this test process imported ccxt long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> Any:
    """Run `code` in a new interpreter at the repo root; the JSON it printed last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_lean_load_gives_ccxts_own_class_and_loads_no_other_exchange() -> None:
    facts = _fresh(
        """
        import json, sys
        from adapters.broker.ccxt_lean import errors, exchange_class
        from adapters.broker.client import BrokerConfig, make_exchange

        cls = exchange_class("binanceusdm")
        rest = exchange_class("binanceusdm", pro=False)
        client = make_exchange(BrokerConfig(api_key="k", api_secret="s"))
        loaded = sorted(
            name.split(".")[-1] for name in sys.modules
            if name.count(".") == 1 and name.split(".")[0] == "ccxt"
            and name.split(".")[1] not in ("base", "async_support", "pro", "abstract")
        )
        print(json.dumps({
            "mro": [f"{k.__module__}.{k.__qualname__}" for k in cls.__mro__],
            "rest_mro": [f"{k.__module__}.{k.__qualname__}" for k in rest.__mro__],
            "client_is_cls": type(client) is cls,
            "id": client.id,
            "has_ws": "watchOrders" in client.has and bool(client.has["watchOrders"]),
            "pro_loaded": sorted(n for n in sys.modules if n.startswith("ccxt.pro.")),
            "rest_loaded": sorted(
                n for n in sys.modules
                if n.startswith("ccxt.async_support.") and n.count(".") == 2
            ),
            "sync_exchanges_loaded": loaded,
            "errors_are_ccxts": errors().InsufficientFunds.__module__,
        }))
        """
    )
    assert facts["mro"][:4] == [
        "ccxt.pro.binanceusdm.binanceusdm",
        "ccxt.pro.binance.binance",
        "ccxt.async_support.binance.binance",
        "ccxt.async_support.base.exchange.Exchange",
    ]
    assert facts["rest_mro"][:2] == [
        "ccxt.async_support.binanceusdm.binanceusdm",
        "ccxt.async_support.binance.binance",
    ]
    assert facts["client_is_cls"] and facts["id"] == "binanceusdm" and facts["has_ws"]
    assert facts["pro_loaded"] == ["ccxt.pro.binance", "ccxt.pro.binanceusdm"]
    assert set(facts["rest_loaded"]) <= {
        "ccxt.async_support.base",
        "ccxt.async_support.binance",
        "ccxt.async_support.binanceusdm",
    }
    assert facts["sync_exchanges_loaded"] == []  # no `ccxt.<exchange>` module was imported
    assert facts["errors_are_ccxts"] == "ccxt.base.errors"


def test_the_lean_classes_are_the_ones_a_full_import_gives() -> None:
    """After a lean load, every other use of ccxt answers as the real packages would, with
    the very same class objects (an `except ccxt.NetworkError` still catches ours)."""
    facts = _fresh(
        """
        import json
        from adapters.broker.ccxt_lean import errors, exchange_class

        lean = exchange_class("binanceusdm")
        import ccxt, ccxt.async_support, ccxt.pro
        print(json.dumps({
            "same_pro": ccxt.pro.binanceusdm is lean,
            "same_rest": ccxt.async_support.binanceusdm
                is exchange_class("binanceusdm", pro=False),
            "same_errors": ccxt.NetworkError is errors().NetworkError
                and ccxt.async_support.NetworkError is errors().NetworkError
                and ccxt.pro.NetworkError is errors().NetworkError,
            "sync_other": ccxt.kraken.__module__,
            "async_other": ccxt.async_support.kraken.__module__,
            "exchanges": len(ccxt.exchanges),
            "version": ccxt.__version__,
        }))
        """
    )
    assert facts["same_pro"] and facts["same_rest"] and facts["same_errors"]
    assert facts["sync_other"] == "ccxt.kraken"
    assert facts["async_other"] == "ccxt.async_support.kraken"
    assert facts["exchanges"] > 50 and facts["version"].count(".") == 2


def test_a_process_that_imported_ccxt_first_keeps_the_real_packages() -> None:
    facts = _fresh(
        """
        import json, types
        import ccxt.pro
        from adapters.broker.ccxt_lean import _LazyPackage, exchange_class

        cls = exchange_class("binanceusdm")
        print(json.dumps({
            "same": cls is ccxt.pro.binanceusdm,
            "lazy": isinstance(ccxt, _LazyPackage) or isinstance(ccxt.pro, _LazyPackage),
        }))
        """
    )
    assert facts == {"same": True, "lazy": False}


def test_an_unknown_exchange_id_is_refused_clearly() -> None:
    facts = _fresh(
        """
        import json
        from adapters.broker.ccxt_lean import exchange_class

        out = {}
        for bad in ("nosuchexchange", "binance; rm"):
            try:
                exchange_class(bad)
                out[bad] = "loaded"
            except (ImportError, ValueError) as exc:
                out[bad] = type(exc).__name__
        print(json.dumps(out))
        """
    )
    assert facts == {"nosuchexchange": "ModuleNotFoundError", "binance; rm": "ValueError"}
