"""Benchmark 7: gzip on the wire (issue 18): bytes and time per 1,000-record batch.

Realistic, seeded subscribers (``--records varied``: the small baseline compresses 25x, which
overstates what real audiences gain) posted to the emulator plain and gzipped at levels 1, 5
(the hook's ``gzip_requests`` level) and 9 (``gzip.compress``'s default, so drip-python's). Per
batch: JSON bytes, bytes on the wire, client compression time and the emulator's time to take
the batch (decompress, parse, validate, store) over loopback.

    python -m bench.wire [--requests 100]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bench.common import log, table, write_result
from bench.emulator_load import run

LEVELS: tuple[int | None, ...] = (None, 1, 5, 9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wire")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for level in LEVELS:
        result = run(args.requests, 1000, level, "varied")
        log(f"{result['encoding']}: {result['wire_bytes_per_batch']:,} bytes per batch")
        rows.append(result)
    plain = rows[0]["wire_bytes_per_batch"]
    text = table(
        ["encoding", "JSON bytes", "wire bytes", "smaller by", "client ms", "emulator ms"],
        [
            [
                r["encoding"],
                r["json_bytes_per_batch"],
                r["wire_bytes_per_batch"],
                f"{plain / r['wire_bytes_per_batch']:.1f}x",
                r["client_compress_ms_per_batch"],
                r["server_ms_per_batch"],
            ]
            for r in rows
        ],
    )
    text += (
        f"\n\nPer 1,000-record batch of varied subscribers, {args.requests} batches each. "
        "Drip allows one batch every 72 s, so a few ms of CPU per batch is free; what gzip buys "
        "is bytes on the wire. The hook's `gzip_requests` stays off by default until Drip is "
        "seen to accept it from us (drip-python sends gzip, so it evidently does).\n"
    )
    print(text)
    write_result("wire", {"rows": rows, "table_markdown": text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
