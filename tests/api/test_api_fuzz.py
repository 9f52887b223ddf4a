"""Schemathesis against the real `hedger api` process's own OpenAPI document (#10): generated
requests, valid and invalid, with and without the admin token; no answer may be a 5xx.

Each run is bounded by `--max-time`; the seed is fixed so a failure reproduces (`FUZZ_SEED`
in the environment changes it)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_process import ApiProcess, api_process, own_database

from config.settings import Settings

TOKEN = "fuzz-admin-token"
SECONDS_PER_RUN = 25


@pytest.fixture(scope="module")
async def api(
    settings: Settings,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    risk_control_worker: None,  # the trading state's workflow, as the workflows worker hosts it
) -> AsyncIterator[ApiProcess]:
    url = await own_database(database_url)
    log = Path(tmp_path_factory.mktemp("fuzz")) / "api.log"
    # its own chain id: the trading state it may set belongs to no other test's hedger
    env = {"HEDGER_ADMIN_TOKEN": TOKEN, "HEDGER_CHAIN_ID": "434343"}
    async with api_process(
        database_url=url, temporal_address=settings.temporal_address, log_path=log, extra_env=env
    ) as running:
        yield running


async def _fuzz(api: ApiProcess, tmp_path: Path, *headers: str) -> None:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    args = [
        "run", f"{api.base}/openapi.json",
        "--checks", "not_a_server_error",
        "--phases", "examples,fuzzing",
        "--max-examples", "40",
        "--max-time", str(SECONDS_PER_RUN),
        "--seed", os.environ.get("FUZZ_SEED", "20261202"),
        "--workers", "2",
        "--request-timeout", "10",
        "--no-color",
    ]  # fmt: skip
    for header in headers:
        args += ["-H", header]
    proc = await asyncio.create_subprocess_exec(
        str(schemathesis), *args, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), SECONDS_PER_RUN * 4 + 60)
    report = out.decode(errors="replace")
    assert proc.returncode == 0, report[-6000:]
    assert "No test cases were generated" not in report, report[-3000:]
    print(report[report.rfind("Test cases:") :])  # the figures, in the test's captured output
    assert api.alive, api.log()[-3000:]


async def test_fuzzing_without_a_token_finds_no_5xx(api: ApiProcess, tmp_path: Path) -> None:
    await _fuzz(api, tmp_path)


async def test_fuzzing_with_the_admin_token_finds_no_5xx(api: ApiProcess, tmp_path: Path) -> None:
    await _fuzz(api, tmp_path, f"Authorization: Bearer {TOKEN}")
