"""Configuration: defaults point at the local stack; bad values fail with the variable's name, never the secret."""

from __future__ import annotations

import subprocess
import sys

import pytest

from config.settings import DEVNET_HEDGER_KEY, ConfigError, load_settings

SECRET = "ab" * 31 + "zz"  # not hex: invalid, and must never be echoed


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    for key in list(os.environ):
        if key.startswith("HEDGER_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no .env / .hedger/devnet.env from the checkout


def test_defaults_point_at_the_local_stack() -> None:
    settings = load_settings()
    assert settings.temporal_address == "127.0.0.1:7233"
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.rpc_http_urls == ["http://127.0.0.1:8545"]
    assert settings.chain_id == 31337


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGER_RPC_HTTP_URLS", "http://a:1, http://b:2")
    monkeypatch.setenv("HEDGER_MUON_URLS", "https://m1/v1/,https://m2/v1/")
    settings = load_settings()
    assert settings.rpc_http_urls == ["http://a:1", "http://b:2"]
    assert settings.muon_urls == ["https://m1/v1/", "https://m2/v1/"]


def test_bad_integer_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGER_CHAIN_ID", "mainnet")
    with pytest.raises(ConfigError, match=r"HEDGER_CHAIN_ID: .*integer"):
        load_settings()


def test_out_of_range_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGER_API_PORT", "70000")
    with pytest.raises(ConfigError, match="HEDGER_API_PORT"):
        load_settings()


def test_bad_private_key_is_named_but_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGER_PRIVATE_KEY", SECRET)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "HEDGER_PRIVATE_KEY" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET[:16] not in repr(caught.value)


def test_bad_address_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGER_SYMMIO_ADDRESS", "0x1234")
    with pytest.raises(ConfigError, match="HEDGER_SYMMIO_ADDRESS"):
        load_settings()


def test_empty_url_list_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEDGER_RPC_HTTP_URLS", " , ")
    with pytest.raises(ConfigError, match="HEDGER_RPC_HTTP_URLS: .*at least one"):
        load_settings()


def test_production_refuses_devnet_secrets_and_missing_contract(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEDGER_ENVIRONMENT", "production")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert (
        "HEDGER_PRIVATE_KEY" in message
        and "HEDGER_ADMIN_TOKEN" in message
        and "HEDGER_SYMMIO_ADDRESS" in message
    )
    assert DEVNET_HEDGER_KEY not in message


def test_missing_contract_address_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="HEDGER_SYMMIO_ADDRESS: is not set"):
        load_settings().require_symmio_address()


def test_redacted_masks_every_secret() -> None:
    shown = repr(load_settings().redacted())
    assert DEVNET_HEDGER_KEY not in shown
    assert "devnet-api-secret" not in shown


def test_env_file_is_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("HEDGER_CHAIN_ID=8453\n")
    assert load_settings().chain_id == 8453


def test_cli_reports_bad_config_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGER_")}
    env["HEDGER_PRIVATE_KEY"] = SECRET
    result = subprocess.run(
        [sys.executable, "-m", "hedger", "config", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: invalid configuration: HEDGER_PRIVATE_KEY")
    assert SECRET not in result.stderr + result.stdout
