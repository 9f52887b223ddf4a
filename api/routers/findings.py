"""`GET /admin/findings`: what the position validator found (the `validator_findings` table),
behind the same bearer token as the rest of the admin API.

Open findings by default (newest first); `include_resolved=true` adds the resolved ones, `kind`
filters by class (`missing_on_broker`, `missing_on_chain`, `size_mismatch`,
`orphan_broker_order`, `unknown_broker_order`, `ledger_behind`). Each row says how long the
difference has lasted (`first_seen`, `last_seen`, `seen_runs`) and whether it alerted.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import AdminDep, EngineDep
from domain.reconcile import FindingKind
from ledger.models import ValidatorFinding

router = APIRouter(prefix="/admin", tags=["admin"])


def _finding_json(f: ValidatorFinding) -> dict[str, Any]:
    out = f.model_dump(mode="json")
    out["open"] = f.resolved_at is None
    out["lasted_seconds"] = round((f.last_seen - f.first_seen).total_seconds(), 3)
    return out


@router.get("/findings")
async def findings(
    _: AdminDep,
    engine: EngineDep,
    include_resolved: bool = False,
    kind: FindingKind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    stmt = select(ValidatorFinding)
    if not include_resolved:
        stmt = stmt.where(col(ValidatorFinding.resolved_at).is_(None))
    if kind is not None:
        stmt = stmt.where(col(ValidatorFinding.kind) == kind.value)
    stmt = stmt.order_by(col(ValidatorFinding.id).desc()).limit(limit)
    async with AsyncSession(engine) as session:
        rows = list((await session.exec(stmt)).all())
    by_kind = {k.value: 0 for k in FindingKind}
    for row in rows:
        if row.resolved_at is None:
            by_kind[row.kind] = by_kind.get(row.kind, 0) + 1
    return {
        "count": len(rows),
        "open_by_kind": by_kind,
        "findings": [_finding_json(r) for r in rows],
    }
