"""Load one ccxt exchange without loading all of them.

`import ccxt.pro` (or `ccxt`, or `ccxt.async_support`) runs package `__init__` files that
import every exchange ccxt ships, sync, async and pro: about 50 MB of a worker's memory for
the one exchange it uses. This module puts lazy stand-ins for those three packages in
`sys.modules` before anything imports them. Each stand-in is the real package (same
`__path__`, so `ccxt.pro.binanceusdm` and `ccxt.base.errors` import from the installed files)
whose `__init__` has not run yet; the first time anything asks it for a name it does not
hold (`ccxt.kraken`, `ccxt.exchanges`, `ccxt.async_support.NetworkError`), it runs its real
`__init__` and answers as the real package would. Code that uses only `exchange_class` and
`errors` loads just its exchange; any other use of ccxt behaves exactly as without this
module, at the old memory cost.

When ccxt was imported already (fully), nothing is replaced: the real packages are used.
`tests/broker/test_ccxt_lean.py` checks, in a fresh interpreter, that the lean class is the
one the full import gives and that the full package still answers after a lean load.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

PACKAGES = ("ccxt", "ccxt.async_support", "ccxt.pro")
_lock = threading.RLock()


class _LazyPackage(types.ModuleType):
    """A package whose real `__init__` runs on the first name it is asked for and lacks."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        with _lock:
            state = self.__dict__
            if not state.get("_ccxt_lean_initialised"):
                state["_ccxt_lean_initialised"] = True
                _run_init(self)
            if name in state:
                return state[name]
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


def _run_init(module: types.ModuleType) -> None:
    """Run the package's own `__init__.py` in its namespace, as `import` would have."""
    spec = module.__spec__
    assert spec is not None and spec.origin is not None
    with open(spec.origin, "rb") as handle:
        code = compile(handle.read(), spec.origin, "exec")
    exec(code, module.__dict__)


def _install() -> None:
    """The lazy stand-ins, unless ccxt is imported already."""
    with _lock:
        if "ccxt" in sys.modules:
            return
        for name in PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError(f"ccxt is not installed (no package {name})")
            module = _LazyPackage(name)
            module.__spec__ = spec
            module.__file__ = spec.origin
            module.__path__ = list(spec.submodule_search_locations)
            module.__package__ = name
            module.__loader__ = spec.loader
            sys.modules[name] = module
            parent, _, child = name.rpartition(".")
            if parent:
                setattr(sys.modules[parent], child, module)
        _seed()


def _seed() -> None:
    """The names ccxt's own modules import from the packages while an exchange loads
    (`from ccxt import NetworkError, Exchange`): the same objects the real `__init__` binds,
    taken from the light modules that define them."""
    base_errors = importlib.import_module("ccxt.base.errors")
    precision = importlib.import_module("ccxt.base.decimal_to_precision")
    sync_base = importlib.import_module("ccxt.base.exchange")
    precise = importlib.import_module("ccxt.base.precise")
    shared = {name: getattr(base_errors, name) for name in base_errors.__all__}
    shared.update({name: getattr(precision, name) for name in precision.__all__})
    shared["errors"] = base_errors
    shared["__version__"] = sync_base.__version__
    for name in PACKAGES:
        sys.modules[name].__dict__.update(shared)
    top = sys.modules["ccxt"].__dict__
    top.update(Exchange=sync_base.Exchange, Precise=precise.Precise)


def _bind_exchange_classes(package: str) -> None:
    """As the real `__init__` does (`from ccxt.async_support.binance import binance`): each
    exchange module loaded under `package` is reachable from it as its class, which is what
    a pro exchange subclasses (`class binance(ccxt.async_support.binance)`)."""
    parent = sys.modules[package]
    prefix = package + "."
    for name, module in list(sys.modules.items()):
        if not name.startswith(prefix) or "." in name[len(prefix) :]:
            continue
        child = name[len(prefix) :]
        cls = getattr(module, child, None)
        if isinstance(cls, type):
            setattr(parent, child, cls)


def exchange_class(exchange_id: str, *, pro: bool = True) -> type[Any]:
    """The ccxt class `exchange_id` (ccxt.pro's by default, else ccxt.async_support's)."""
    if not exchange_id.isidentifier():
        raise ValueError(f"not a ccxt exchange id: {exchange_id!r}")
    with _lock:
        _install()
        rest = importlib.import_module(f"ccxt.async_support.{exchange_id}")
        _bind_exchange_classes("ccxt.async_support")
        if not pro:
            return _class_of(rest, exchange_id)
        # the pro module's bases are `ccxt.async_support.<id>` classes: bind them first
        module = importlib.import_module(f"ccxt.pro.{exchange_id}")
        _bind_exchange_classes("ccxt.pro")
        return _class_of(module, exchange_id)


def _class_of(module: types.ModuleType, exchange_id: str) -> type[Any]:
    cls = getattr(module, exchange_id, None)
    if not isinstance(cls, type):
        raise ImportError(f"ccxt has no exchange {exchange_id!r}")
    return cls


def errors() -> types.ModuleType:
    """`ccxt.base.errors`: the exception classes every ccxt exchange raises."""
    with _lock:
        _install()
        return importlib.import_module("ccxt.base.errors")
