"""Client side of the risk-control workflow (`interfaces.risk`): read and change the trading
state, reserve and resize exposure. Used by the ops activities, the admin API and `hedger ops`.

Every call starts the workflow when it is not running yet (update-with-start, or a start with
conflict policy USE_EXISTING before a query), so no set-up step has to run first.
"""

from __future__ import annotations

from typing import Any, cast

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from interfaces.risk import (
    QUERY_BOOK,
    QUERY_TRADING_STATE,
    RISK_CONTROL_WORKFLOW,
    UPDATE_RESERVE,
    UPDATE_RESIZE,
    UPDATE_SET_TRADING_STATE,
    BookView,
    ExposureGrant,
    ExposureRequest,
    ExposureResize,
    RiskControlInput,
    TradingStateChange,
    TradingStateView,
    risk_control_workflow_id,
)
from interfaces.temporal import TaskQueues


class RiskControl:
    """The risk-control workflow of one chain, through a Temporal client."""

    def __init__(self, client: Client, chain_id: int, task_queue: str = TaskQueues.RISK) -> None:
        self.client = client
        self.chain_id = chain_id
        self.task_queue = task_queue
        self.workflow_id = risk_control_workflow_id(chain_id)

    def _start_operation(
        self, seed: TradingStateView | None = None
    ) -> WithStartWorkflowOperation[Any, Any]:
        return WithStartWorkflowOperation(
            RISK_CONTROL_WORKFLOW,
            RiskControlInput(self.chain_id, seed=seed),
            id=self.workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def ensure_started(
        self, seed: TradingStateView | None = None
    ) -> WorkflowHandle[Any, Any]:
        """Start the workflow unless it runs (`seed`: the trading state a first start begins with)."""
        return await self.client.start_workflow(
            RISK_CONTROL_WORKFLOW,
            RiskControlInput(self.chain_id, seed=seed),
            id=self.workflow_id,
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    async def trading_state(self) -> TradingStateView:
        handle = self.client.get_workflow_handle(self.workflow_id)
        try:
            view = await handle.query(QUERY_TRADING_STATE, result_type=TradingStateView)
            return cast(TradingStateView, view)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
        handle = await self.ensure_started()
        view = await handle.query(QUERY_TRADING_STATE, result_type=TradingStateView)
        return cast(TradingStateView, view)

    async def changes(self) -> list[TradingStateView]:
        handle = await self.ensure_started()
        changes = await handle.query("changes", result_type=list[TradingStateView])
        return cast(list[TradingStateView], changes)

    async def set_trading_state(self, change: TradingStateChange) -> TradingStateView:
        """Raises ValueError for a change the workflow refuses (unknown state, no reason)."""
        try:
            view = await self.client.execute_update_with_start_workflow(
                UPDATE_SET_TRADING_STATE,
                change,
                start_workflow_operation=self._start_operation(),
                result_type=TradingStateView,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == "InvalidArgument":
                raise ValueError(cause.message) from exc
            raise
        return cast(TradingStateView, view)

    async def reserve(self, request: ExposureRequest) -> ExposureGrant:
        grant = await self.client.execute_update_with_start_workflow(
            UPDATE_RESERVE,
            request,
            start_workflow_operation=self._start_operation(),
            result_type=ExposureGrant,
        )
        return cast(ExposureGrant, grant)

    async def resize(self, change: ExposureResize) -> None:
        await self.client.execute_update_with_start_workflow(
            UPDATE_RESIZE, change, start_workflow_operation=self._start_operation()
        )

    async def book(self) -> BookView:
        handle = await self.ensure_started()
        return cast(BookView, await handle.query(QUERY_BOOK, result_type=BookView))
