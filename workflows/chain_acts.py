"""Workflow-side wrappers of the chain, market and context activities, plus pure row builders.

The chain activities run on `hedger-chain` (one worker per signer owns its nonces); every call
here goes through `acts._run`, so failures arrive as `ActionImpossible` / `StepFailed`.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.chain import (
        ChainTime,
        CloseFillRequest,
        LockRequest,
        OpenRequest,
        PartyARef,
        PartyBFunds,
        QuoteRef,
        QuoteView,
        SymbolInfo,
        TxResult,
    )
    from activities.ledger import LimitsView, QuoteRow
    from activities.market import MarketRulesView, SymbolRef
    from domain.enums import OrderType, PositionType, QuoteStatus, TradingState
    from domain.policy import OpenContext, SymbolConfig
    from domain.quote import LockedValues, Quote
    from hedger.temporal import TaskQueues
    from workflows import acts


# The activity contracts (dataclasses) live beside their activities: `activities.chain`,
# `activities.market`, `activities.ledger`.


# ------------------------------------------------------------------ conversions (pure)


def to_quote(view: QuoteView) -> Quote:
    d = Decimal
    return Quote(
        id=view.quote_id,
        party_a=view.party_a,
        symbol_id=view.symbol_id,
        position_type=PositionType(view.position_type),
        order_type=OrderType(view.order_type),
        requested_open_price=d(view.requested_open_price),
        market_price=d(view.market_price),
        quantity=d(view.quantity),
        locked_values=LockedValues(d(view.cva), d(view.lf), d(view.party_amm), d(view.party_bmm)),
        deadline=view.deadline,
        status=QuoteStatus(view.status),
        party_b=view.party_b,
        party_bs_whitelist=tuple(view.party_bs_whitelist),
        trading_fee=d(view.trading_fee),
        opened_price=d(view.opened_price),
        closed_amount=d(view.closed_amount),
        avg_closed_price=d(view.avg_closed_price),
        requested_close_price=d(view.requested_close_price),
        quantity_to_close=d(view.quantity_to_close),
        parent_id=view.parent_id,
        status_modify_timestamp=view.status_modify_timestamp,
    )


def quote_summary(quote: Quote) -> dict[str, Any]:
    return {
        "quote_id": quote.id,
        "party_a": quote.party_a,
        "party_b": quote.party_b,
        "symbol_id": quote.symbol_id,
        "side": quote.position_type.name,
        "order_type": quote.order_type.name,
        "status": quote.status.name,
        "quantity": str(quote.quantity),
        "requested_open_price": str(quote.requested_open_price),
        "opened_price": str(quote.opened_price),
        "closed_amount": str(quote.closed_amount),
        "quantity_to_close": str(quote.quantity_to_close),
        "deadline": quote.deadline,
    }


def quote_row(chain_id: int, quote: Quote, hedge_status: str, symbol: str | None) -> QuoteRow:
    lv = quote.locked_values
    return QuoteRow(
        chain_id=chain_id, quote_id=quote.id, party_a=quote.party_a, party_b=quote.party_b,
        symbol_id=quote.symbol_id, symbol=symbol, position_type=int(quote.position_type),
        order_type=int(quote.order_type), quantity=str(quote.quantity),
        requested_open_price=str(quote.requested_open_price), market_price=str(quote.market_price),
        cva=str(lv.cva), lf=str(lv.lf), party_amm=str(lv.party_a_mm), party_bmm=str(lv.party_b_mm),
        trading_fee=str(quote.trading_fee), deadline=quote.deadline, parent_id=quote.parent_id or None,
        chain_status=quote.status.name, hedge_status=hedge_status,
        opened_price=str(quote.opened_price) if quote.opened_price else None,
        closed_amount=str(quote.closed_amount) if quote.closed_amount else None,
    )  # fmt: skip


# ------------------------------------------------------------------ activity wrappers


async def read_quote(quote_id: int) -> Quote:
    view = await acts.chain_call("chain_read_quote", QuoteRef(quote_id), QuoteView)
    return to_quote(view)


async def chain_time() -> int:
    return (await acts.chain_call("chain_time", None, ChainTime)).timestamp


async def our_address() -> str:
    return await acts.chain_call("chain_party_b_address", None, str)


async def symbol_info(symbol_id: int) -> SymbolInfo:
    return await acts.chain_call("chain_symbol_info", QuoteRef(symbol_id), SymbolInfo)


async def party_b_funds(party_a: str) -> PartyBFunds:
    return await acts.chain_call("chain_party_b_funds", PartyARef(party_a), PartyBFunds)


async def lock_quote(quote_id: int, allocate_first: Decimal) -> TxResult:
    return await acts.chain_call(
        "chain_lock_quote", LockRequest(quote_id, format(allocate_first, "f")), TxResult
    )


async def unlock_quote(quote_id: int) -> TxResult:
    return await acts.chain_call("chain_unlock_quote", QuoteRef(quote_id), TxResult)


async def accept_cancel_request(quote_id: int) -> TxResult:
    return await acts.chain_call("chain_accept_cancel_request", QuoteRef(quote_id), TxResult)


async def open_position(quote_id: int, amount: Decimal, price: Decimal) -> TxResult:
    request = OpenRequest(quote_id, format(amount, "f"), format(price, "f"))
    return await acts.chain_call("chain_open_position", request, TxResult)


async def fill_close_request(quote_id: int, amount: Decimal, price: Decimal) -> TxResult:
    request = CloseFillRequest(quote_id, format(amount, "f"), format(price, "f"))
    return await acts.chain_call("chain_fill_close_request", request, TxResult)


async def accept_cancel_close_request(quote_id: int) -> TxResult:
    return await acts.chain_call("chain_accept_cancel_close_request", QuoteRef(quote_id), TxResult)


async def market_rules(symbol_name: str) -> MarketRulesView:
    return await acts._run(
        "broker_market_rules",
        SymbolRef(symbol_name),
        queue=TaskQueues.BROKER,
        result_type=MarketRulesView,
    )


async def open_context(
    quote: Quote,
    now: int,
    our: str,
    info: SymbolInfo,
    rules: MarketRulesView | None,
    limits: LimitsView,
) -> OpenContext:
    """Gather everything `decide_open` needs (concurrently); the decision itself stays pure."""
    mark_task = acts.mark_price(rules.symbol) if rules else _none()
    mark, exposure, state, funds = await asyncio.gather(
        mark_task, acts.exposure(), acts.trading_state(), party_b_funds(quote.party_a)
    )
    symbol = None
    if rules is not None:
        symbol = SymbolConfig(
            symbol_id=quote.symbol_id, name=info.name, supported=info.is_valid, broker_market=rules.symbol,
            step_size=Decimal(rules.step_size), min_notional=Decimal(rules.min_notional),
            max_leverage=Decimal(info.max_leverage), notional_cap=Decimal(limits.max_notional_per_symbol),
            notional_used=Decimal(exposure.by_symbol.get(info.name, "0")), price_band_pct=Decimal(limits.price_band_pct),
            tick_size=Decimal(rules.tick_size),
            max_quantity=Decimal(rules.max_quantity) if rules.max_quantity else None,
        )  # fmt: skip
    return OpenContext(
        our_address=our,
        symbol=symbol,
        open_interest_cap=Decimal(limits.max_open_interest),
        open_interest_used=Decimal(exposure.open_interest),
        mark_price=mark,
        now=now,
        min_seconds_to_hedge=limits.min_seconds_to_deadline,
        available_allocation=Decimal(funds.available_for_quote),
        trading_state=TradingState(state),
        allocatable_balance=Decimal(funds.allocatable),
    )


async def _none() -> None:
    return None
