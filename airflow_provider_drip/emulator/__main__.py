"""``python -m airflow_provider_drip.emulator`` / ``drip-emulator``: run the emulator.

The first stdout line is the bound base URL (flushed), so ``--port 0`` can be discovered.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
from collections.abc import Sequence
from typing import Any

from airflow_provider_drip.emulator.config import ALIASES, EmulatorConfig
from airflow_provider_drip.emulator.server import DripEmulator

HELP = {
    "account_id": "Drip account id accepted in paths (default %(default)s)",
    "token": "API token accepted as Basic user (empty password) or Bearer",
    "rate_limit": "batch requests per window; 0 = no rate limiting (default %(default)s)",
    "rate_window": "rate-limit window in seconds, anchored at its first request",
    "retry_after": "send Retry-After (seconds to window reset) with 429s (default on)",
    "read_rate_limit": "non-batch requests (status checks, reads) per window; 0 = no limit",
    "processing_delay": "seconds a v3 batch waits in the queue before it is processed "
    "(alias: --status-seconds)",
    "seconds_per_record": "then seconds per record, in order, until each id completes",
    "status_polls": "legacy: an id also answers queued/processing for its first N polls",
    "status_endpoint": "serve the request-status endpoint (default on)",
    "fail_marker": "v3 records containing this string end 'failed'",
    "seed": "seed of the fault injector (deterministic faults)",
    "fault_500_rate": "probability of a 500 (batch not processed)",
    "fault_503_rate": "probability of a 503 (batch not processed)",
    "drop_rate": "probability of processing a batch then closing the socket unanswered",
    "fault_500_requests": "comma-separated batch request numbers answered 500",
    "fault_503_requests": "comma-separated batch request numbers answered 503",
    "drop_requests": "comma-separated batch request numbers processed then dropped",
    "latency": "seconds added before every API response",
    "record_cap": "full records kept per resource (default %(default)s)",
    "max_body_bytes": "largest request body, sent and after gzip decompression (413 beyond)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drip-emulator", description="A local emulator of Drip's batch REST API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    defaults = EmulatorConfig()
    for f in dataclasses.fields(EmulatorConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        kwargs: dict[str, Any] = {"dest": f.name, "help": HELP.get(f.name), "default": default}
        if f.type == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif f.type == "list[int]":
            kwargs["type"] = str
            kwargs["default"] = ""
        else:
            kwargs["type"] = {"int": int, "float": float, "str": str}[str(f.type)]
        parser.add_argument(flag, **kwargs)
    for old, new in ALIASES.items():  # older spellings, e.g. --status-seconds
        parser.add_argument(
            "--" + old.replace("_", "-"), dest=new, type=float, default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )  # fmt: skip
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    names = [f.name for f in dataclasses.fields(EmulatorConfig)]
    return EmulatorConfig().updated({name: getattr(args, name) for name in names})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as err:
        print(f"drip-emulator: {err}", file=sys.stderr)
        return 2
    emulator = DripEmulator(config, host=args.host, port=args.port, verbose=args.verbose)
    print(emulator.url, flush=True)
    print(
        f"drip-emulator: account {config.account_id}, rate limit "
        f"{config.rate_limit or 'off'} per {config.rate_window:g}s; control API at "
        f"{emulator.url}/_emulator/stats",
        file=sys.stderr,
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        emulator.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        emulator.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
