"""``python -m airflow_provider_drip.state show|reset``: inspect or forget a sync state.

    python -m airflow_provider_drip.state show s3://bucket/drip --conn-id aws_state \\
        --account 123 --resource subscribers --state-key nightly.sync
    python -m airflow_provider_drip.state reset ... --yes

``reset`` removes the state and the durable cursor beside it, so the next changed-mode run
sends every record again (as ``full_refresh=True`` would, without rebuilding in the same run).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_drip.state import storage
from airflow_provider_drip.state.cursor_store import CURSOR_NAME, ObjectStorageCheckpoint
from airflow_provider_drip.state.errors import SyncStateError
from airflow_provider_drip.state.paths import default_state_path
from airflow_provider_drip.state.store import SyncStateStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_drip.state",
        description="Show or reset a Drip change-only sync state.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("show", "print keys, generation, last commit and size of a state"),
        ("reset", "remove a state and its cursor: the next run sends everything"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument(
            "state_path",
            nargs="?",
            help="folder or URI holding states (default: [drip] state_path, else "
            "$AIRFLOW_HOME/drip_state)",
        )
        p.add_argument("--account", required=True, help="Drip account id")
        p.add_argument("--resource", required=True, help="e.g. subscribers, events, cart")
        p.add_argument("--state-key", required=True, help="usually <dag_id>.<task_id>")
        p.add_argument("--conn-id", help="Airflow connection for the object store")
        if name == "show":
            p.add_argument("--json", action="store_true", help="print JSON")
        else:
            p.add_argument("--yes", action="store_true", help="confirm the reset")
    return parser


def _base(args: argparse.Namespace) -> ObjectStoragePath:
    raw = args.state_path or default_state_path()
    return ObjectStoragePath(raw, conn_id=args.conn_id) if args.conn_id else ObjectStoragePath(raw)


def _show(args: argparse.Namespace) -> int:
    base = _base(args)
    info = SyncStateStore.info(base, args.account, args.resource, args.state_key)
    cursor = ObjectStorageCheckpoint(base, args.account, args.resource, args.state_key)
    out: dict[str, Any] = {
        "path": info.path,
        "exists": info.exists,
        "keys": info.count,
        "generation": info.generation,
        "last_commit": (
            datetime.fromtimestamp(info.committed_at, tz=timezone.utc).isoformat()
            if info.committed_at
            else None
        ),
        "size_bytes": info.size_bytes,
        "bytes_per_key": round(info.bytes_per_key, 2) if info.bytes_per_key else None,
        "key_fields": info.key_spec,
        "cursor_saved": storage.exists(cursor.folder / CURSOR_NAME),
    }
    if args.json:
        print(json.dumps(out))
    elif not info.exists:
        print(f"no sync state at {info.path}")
    else:
        for key, value in out.items():
            print(f"{key:>14}: {value}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    base = _base(args)
    path = SyncStateStore.path_for(base, args.account, args.resource, args.state_key)
    if not args.yes:
        print(f"would remove {path} and its cursor; add --yes to do it", file=sys.stderr)
        return 2
    removed = SyncStateStore.reset(base, args.account, args.resource, args.state_key)
    cursor = ObjectStorageCheckpoint(base, args.account, args.resource, args.state_key)
    parts = cursor.clear_all()
    print(f"{'removed' if removed else 'no state at'} {path}; cursor objects removed: {parts}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _show(args) if args.command == "show" else _reset(args)
    except SyncStateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
