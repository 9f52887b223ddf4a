"""`hedger demo --exit-when-done` ends within its bound when something is stuck, says what is
stuck, and exits non-zero — here a quote locked by a PartyB that then never acts again."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from audit_helpers import Devnet

from devnet.audit import ChainReader
from devnet.demo import DemoOptions, HedgerProcesses
from devnet.demo_run import drive
from devnet.stack.supervisor import Supervisor


async def test_exit_when_done_is_bounded_and_prints_what_is_stuck(
    devnet: Devnet, tmp_path: Path
) -> None:
    reader = ChainReader(devnet.rpc_url, devnet.symmio)
    first = reader.last_quote_id() + 1
    options = DemoOptions(
        intents=3, exit_when_done=True, summary_json=tmp_path / "summary.json", traders=1,
        interval=0.5, timeout=45, settle_timeout=5,
    )  # fmt: skip
    lines: list[str] = []
    started = time.monotonic()
    run = asyncio.create_task(
        drive(
            devnet.stack,
            devnet.symmio,
            HedgerProcesses(tmp_path, {}, lines.append),
            options,
            lines.append,
            lambda: False,
            Supervisor(lines.append),
        )  # fmt: skip
    )
    locked = None
    try:
        while locked is None and not run.done():  # lock one of the trader's intents, then vanish
            last = await asyncio.to_thread(reader.last_quote_id)
            for quote_id in range(first, last + 1):
                if (await asyncio.to_thread(reader.quote, quote_id)).status == "PENDING":
                    try:
                        await devnet.lock(quote_id)
                    except Exception:
                        continue  # the trader cancelled it first: the next one
                    locked = quote_id
                    break
            await asyncio.sleep(0.2)
        code = await asyncio.wait_for(run, 150)
    finally:
        reader.close()
    assert locked is not None
    assert code == 1 and time.monotonic() - started < 45 + 60
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["timed_out"] and summary["stuck"] >= 1
    assert locked in {row["quote"] for row in summary["details"]["stuck"]}
    assert any(line.startswith(f"demo: STUCK quote {locked} ") for line in lines), lines[-10:]
