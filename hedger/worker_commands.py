"""`hedger worker workflows|chain|broker|ops|order-monitor`: one Temporal worker process each.

The bodies live in `workers/`; these commands only read the settings, start metrics and run
the body until SIGTERM/SIGINT.
"""

from __future__ import annotations

import typer

from hedger.exits import run_then_exit, settings_or_exit

worker_app = typer.Typer(help="Worker processes (each can run many times).", no_args_is_help=True)


@worker_app.command("workflows")
def worker_workflows() -> None:
    """Host the intent and position workflows (task queue hedger-workflows)."""
    from workers.allocator import fix_mmap_threshold
    from workers.runtime import configure_logging, serve_metrics
    from workers.workflows import main

    settings = settings_or_exit()
    configure_logging(settings)
    fix_mmap_threshold()
    serve_metrics(settings.metrics_port, settings.metrics_host)
    run_then_exit(main(settings))


@worker_app.command("ops")
def worker_ops() -> None:
    """Ledger writes, alerts, trading state (task queue hedger-ops)."""
    from workers.allocator import fix_mmap_threshold
    from workers.ops import main
    from workers.runtime import configure_logging, serve_metrics

    settings = settings_or_exit()
    configure_logging(settings)
    fix_mmap_threshold()
    serve_metrics(settings.metrics_port + 1 if settings.metrics_port else 0, settings.metrics_host)
    run_then_exit(main(settings))


@worker_app.command("broker")
def worker_broker() -> None:
    """Broker orders through ccxt (task queue hedger-broker)."""
    from workers.allocator import fix_mmap_threshold
    from workers.broker import main
    from workers.runtime import configure_logging, serve_metrics

    settings = settings_or_exit()
    configure_logging(settings)
    fix_mmap_threshold()
    serve_metrics(settings.metrics_port + 2 if settings.metrics_port else 0, settings.metrics_host)
    run_then_exit(main(settings))


@worker_app.command("chain")
def worker_chain() -> None:
    """Sign and send SYMMIO transactions, one worker per signer key (task queue hedger-chain)."""
    from workers.allocator import fix_mmap_threshold
    from workers.chain_agent import main
    from workers.runtime import configure_logging, serve_metrics

    settings = settings_or_exit()
    configure_logging(settings)
    fix_mmap_threshold()
    serve_metrics(settings.metrics_port + 3 if settings.metrics_port else 0, settings.metrics_host)
    run_then_exit(main(settings))


@worker_app.command("order-monitor")
def worker_order_monitor() -> None:
    """Watch broker order updates (websocket) and signal the owning workflows."""
    from workers.allocator import fix_mmap_threshold
    from workers.order_monitor import main

    settings = settings_or_exit()
    fix_mmap_threshold()
    run_then_exit(main(settings))
