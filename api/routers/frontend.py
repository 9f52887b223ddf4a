"""The REST API SYMMIO front-ends expect from a hedger (SYMMIO.md §5.1): exact paths and shapes.

Everything is read from the Postgres ledger (symbols, positions, notifications, whitelist); the
hedger-wide caps come from settings. Unknown symbols and bad parameters are clear 4xx answers
with a `detail` message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from api.balances import party_a_balances
from api.deps import EngineDep, SettingsDep
from api.errors import ErrorMessage, SafeJSONResponse, unprocessable
from api.guard import INT64_MAX, INT64_MIN, is_address
from api.serialize import (
    dec_num,
    dec_str,
    funding_json,
    leverage_str,
    notification_json,
    pct_str,
    symbol_json,
)
from config.settings import Settings
from domain.errors import error_code_response, error_codes_response
from ledger import queries as repo
from ledger.market_tables import SymbolRecord

router = APIRouter(tags=["front-end"])
log = logging.getLogger(__name__)

MAX_PAGE = 100
HUNDRED = Decimal(100)
MAX_NAME = 64  # characters of a symbol name

# Integers the ledger stores as BIGINT: anything outside int64 is a 422, never a database error.
Id64 = Annotated[int, Path(ge=0, le=INT64_MAX)]
SymbolName = Annotated[str, Path(min_length=1, max_length=MAX_NAME)]
_400 = {"model": ErrorMessage, "description": "Invalid parameter"}
_404 = {"model": ErrorMessage, "description": "Unknown symbol or code"}


def symbol_cap(symbol: SymbolRecord, settings: Settings) -> Decimal:
    """The notional cap enforced for a symbol: the symbol's own cap when set, never above the
    hedger-wide per-symbol cap."""
    caps = [c for c in (symbol.max_notional_value, settings.max_notional_per_symbol) if c and c > 0]
    return min(caps) if caps else Decimal(0)


async def _symbol_or_404(engine: Any, name: str) -> SymbolRecord:
    symbol = await repo.symbol_by_name(engine, name)
    if symbol is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown symbol {name!r}")
    return symbol


@router.get("/contract-symbols")
async def contract_symbols(engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    symbols = await repo.list_symbols(engine)
    return {
        "count": len(symbols),
        "symbols": [symbol_json(s, symbol_cap(s, settings)) for s in symbols],
    }


@router.get("/error_codes")
async def error_codes() -> dict[str, str]:
    return error_codes_response()


@router.get("/error_codes/{code}", responses={404: _404})
async def error_code(code: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)]) -> dict[str, str]:
    body = error_code_response(code)
    if body is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown error code {code}")
    return body


@router.get("/open-interest")
async def open_interest(engine: EngineDep, settings: SettingsDep) -> dict[str, str | None]:
    used = await repo.open_interest(engine)
    return {"total_cap": dec_str(settings.max_open_interest), "used": dec_str(used)}


@router.get("/notional_cap/{symbol_id}", responses={404: _404})
async def notional_cap(
    symbol_id: Id64, engine: EngineDep, settings: SettingsDep
) -> dict[str, str | None]:
    symbol = await repo.symbol_by_id(engine, symbol_id)
    if symbol is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown symbol id {symbol_id}")
    used = repo.notional_used(await repo.notional_by_symbol(engine), symbol)
    return {"total_cap": dec_str(symbol_cap(symbol, settings)), "used": dec_str(used)}


@router.get("/price-range/{symbol_name}", responses={404: _404})
async def price_range(
    symbol_name: SymbolName, engine: EngineDep, settings: SettingsDep
) -> dict[str, Any]:
    symbol = await _symbol_or_404(engine, symbol_name)
    if symbol.mark_price is None or symbol.mark_price <= 0:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"no mark price for {symbol.name} yet"
        )
    band = settings.price_band_pct / HUNDRED
    return {
        "min_price": dec_num(symbol.mark_price * (1 - band)),
        "max_price": dec_num(symbol.mark_price * (1 + band)),
    }


@router.get("/get_market_info")
async def market_info(engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in await repo.list_symbols(engine):
        out[s.name] = {
            "price": dec_num(s.mark_price) or 0,
            "price_change_percent": dec_num(s.price_change_percent) or 0,
            "trade_volume": dec_num(s.trade_volume) or 0,
            "notional_cap": dec_num(symbol_cap(s, settings)) or 0,
        }
    return out


@router.get("/get_funding_info")
async def funding_info(
    engine: EngineDep,
    symbols: Annotated[list[Annotated[str, Field(max_length=MAX_NAME)]] | None, Query()] = None,
) -> dict[str, Any]:
    """Funding of the named symbols (all symbols when none is named); unknown names are left out."""
    rows = await (repo.symbols_by_names(engine, symbols) if symbols else repo.list_symbols(engine))
    return {s.name: funding_json(s) for s in rows}


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, message)


@router.get("/get_locked_params/{symbol_name}", responses={400: _400, 404: _404})
async def locked_params(
    symbol_name: SymbolName,
    engine: EngineDep,
    leverage: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, str]:
    symbol = await _symbol_or_404(engine, symbol_name)
    if leverage is None or not leverage.strip():
        raise _bad_request("query parameter 'leverage' is required, e.g. ?leverage=10")
    try:
        lev = Decimal(leverage.strip())
    except InvalidOperation:
        raise _bad_request(f"invalid leverage {leverage!r}: not a number") from None
    if not lev.is_finite() or lev <= 0:
        raise _bad_request(f"invalid leverage {leverage!r}: must be a positive number")
    if lev.adjusted() < -18:  # below the ledger's numeric(38, 18) resolution
        raise _bad_request(f"invalid leverage {leverage!r}: too small")
    if lev > symbol.max_leverage:
        raise _bad_request(
            f"invalid leverage {leverage}: above the maximum {symbol.max_leverage} for {symbol.name}"
        )
    params = await repo.locked_params_for(engine, symbol.symbol_id, lev)
    if params is None:
        raise _bad_request(f"invalid leverage {leverage}: not offered for {symbol.name}")
    return {
        "cva": pct_str(params.cva_pct),
        "partyAmm": pct_str(params.party_amm_pct),
        "lf": pct_str(params.lf_pct),
        "leverage": leverage_str(lev),
        "partyBmm": dec_str(params.party_bmm_pct) or "0",
    }


@router.get("/check_in-whitelist/{address}/{multi_account}")
async def check_in_whitelist(address: str, multi_account: str, engine: EngineDep) -> bool | None:
    """`true` / `false`; `null` when either argument is not an address."""
    if not (is_address(address) and is_address(multi_account)):
        return None
    return await repo.is_whitelisted(engine, address, multi_account)


class WhitelistResult(BaseModel):
    successful: bool
    message: str


@router.get(
    "/add-sub-address-in-whitelist/{sub_account}/{multi_account}",
    response_model=WhitelistResult,
    responses={400: {"model": WhitelistResult, "description": "Not an address"}},
)
async def add_sub_address_in_whitelist(
    sub_account: str, multi_account: str, engine: EngineDep
) -> dict[str, Any] | SafeJSONResponse:
    for label, value in (("sub account", sub_account), ("multi account", multi_account)):
        if not is_address(value):
            return SafeJSONResponse(
                {"successful": False, "message": f"invalid {label} address {value!r}"},
                status_code=status.HTTP_400_BAD_REQUEST,
            )
    added = await repo.add_to_whitelist(engine, sub_account, multi_account)
    return {
        "successful": True,
        "message": "added to whitelist" if added else "already in whitelist",
    }


class PositionStateQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    quote_id: Annotated[str, Field(max_length=40)] | int | None = None
    address: Annotated[str, Field(max_length=64)] | None = None
    symbols: list[Annotated[str, Field(max_length=MAX_NAME)]] = Field(default_factory=list)
    states: list[Annotated[str, Field(max_length=MAX_NAME)]] = Field(default_factory=list)
    create_time_gte: Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | None = None
    modify_time_gte: Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | None = None


@router.post("/position-state/{start}/{size}", responses={400: _400})
async def position_state(
    start: Annotated[int, Path(le=INT64_MAX)],
    size: Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)],
    body: PositionStateQuery,
    engine: EngineDep,
) -> dict[str, Any]:
    if start < 0:
        raise _bad_request(f"start must be >= 0, got {start}")
    if not 1 <= size <= MAX_PAGE:
        raise _bad_request(f"size must be between 1 and {MAX_PAGE}, got {size}")
    quote_id: int | None = None
    if body.quote_id is not None and str(body.quote_id).strip() != "":
        try:
            quote_id = int(str(body.quote_id).strip())
        except ValueError:
            raise _bad_request(f"quote_id must be an integer, got {body.quote_id!r}") from None
        if not 0 <= quote_id <= INT64_MAX:
            raise unprocessable(("body", "quote_id"), "quote_id must be between 0 and 2^63-1")
    address = body.address.strip() if body.address else None
    if quote_id is None and not address:
        raise _bad_request("one of 'quote_id' or 'address' is required in the body")
    if address and not is_address(address):
        raise _bad_request(f"address {address!r} is not a 0x-prefixed 20-byte hex address")
    count, rows = await repo.notifications_page(
        engine,
        repo.NotificationFilter(
            quote_id=quote_id,
            address=address or None,
            symbols=body.symbols,
            states=body.states,
            create_time_gte=body.create_time_gte,
            modify_time_gte=body.modify_time_gte,
        ),
        start,
        size,
    )
    return {"count": count, "position_state": [notification_json(n) for n in rows]}


_503 = {"model": ErrorMessage, "description": "The chain could not be read"}
_BALANCE_READS = 8  # sub-accounts whose partyAStats are read at once


@router.get(
    "/get_balance_info/{wallet}/{multi_account}",
    responses={400: _400, 404: {"model": ErrorMessage, "description": "Unknown multi account"},
               503: _503},
)  # fmt: skip
async def balance_info(
    wallet: str, multi_account: str, engine: EngineDep, settings: SettingsDep, request: Request
) -> dict[str, Any]:
    """The balances of each sub-account (PartyA) `wallet` owns under the MultiAccount
    `multi_account`, keyed by sub-account: `{"party_a": {allocated_balance, available_balance,
    cva, lf, notional, party_a_mm, pending_*, upnl, timestamp}}` (at most
    HEDGER_MULTI_ACCOUNT_MAX_SUB_ACCOUNTS of them)."""
    for label, value in (("wallet", wallet), ("multi account", multi_account)):
        if not is_address(value):
            raise _bad_request(f"invalid {label} address {value[:64]!r}")
    if multi_account.lower() not in {m.lower() for m in settings.multi_accounts}:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"multi account {multi_account} is not served by this hedger (HEDGER_MULTI_ACCOUNTS)",
        )
    chain = getattr(request.app.state, "chain", None)
    if chain is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "no chain connection (HEDGER_SYMMIO_ADDRESS)"
        )
    gate = asyncio.Semaphore(_BALANCE_READS)

    async def read(address: str) -> Any:
        async with gate:
            return await chain.party_a_balance_info(address)

    try:
        accounts = await chain.sub_accounts(
            multi_account, wallet, settings.multi_account_max_sub_accounts
        )
        infos = await asyncio.gather(*(read(a) for a in accounts))
    except Exception as exc:  # noqa: BLE001 - any failed chain read: the balances are unknown
        log.warning("get_balance_info: chain read failed: %s", exc)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the chain could not be read; try again"
        ) from None
    now = int(time.time())
    out: dict[str, Any] = {}
    for address, info in zip(accounts, infos, strict=True):
        b = await party_a_balances(engine, address, info)
        out[address] = {
            "party_a": {
                "allocated_balance": dec_str(b.allocated),
                "available_balance": dec_str(b.available),
                "cva": dec_str(b.locked.cva),
                "lf": dec_str(b.locked.lf),
                "notional": dec_str(b.notional),
                "party_a_mm": dec_str(b.locked.party_a_mm),
                "pending_cva": dec_str(b.pending.cva),
                "pending_lf": dec_str(b.pending.lf),
                "pending_party_a_mm": dec_str(b.pending.party_a_mm),
                "upnl": dec_str(b.upnl),
                "timestamp": now,
            }
        }
    return out
