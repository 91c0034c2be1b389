"""Render docs/bench.md from bench/results/ (latest run of each). It writes nothing else:
the README links to docs/bench.md instead of carrying a generated copy of its tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR

DOC = REPO_ROOT / "docs" / "bench.md"
ORDER = (
    "throughput",
    "memory",
    "budget",
    "occupancy",
    "changed",
    "changed-csv",
    "status",
    "wire",
)
TITLES = {
    "throughput": "1. Pipeline throughput",
    "memory": "2. Memory on big inputs",
    "budget": "3. Rate-budget use",
    "occupancy": "4. Worker occupancy (deferrable vs sleeping)",
    "changed": "5. Change-only syncs (JSON Lines source)",
    "changed-csv": "5b. Change-only syncs (CSV source)",
    "status": "6. Confirming 20,000 request ids: verify='all' vs 'sample'",
    "wire": "7. gzip on the wire: bytes and time per batch",
}


def _machine(m: dict[str, Any]) -> str:
    return (f"{m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, "
            f"Airflow {m['airflow']}, provider {m['provider']} @ {m['git_commit']}")  # fmt: skip


def _results() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in ORDER:
        path = RESULTS_DIR / f"{name}.json"
        if path.exists():
            found.append((name, json.loads(path.read_text())))
    return found


def _section(name: str, doc: dict[str, Any], heading: str) -> list[str]:
    return [
        heading,
        f"Command: `{doc['command']}` — finished {doc['finished_at']}  ",
        f"Machine: {_machine(doc['machine'])}\n",
        doc["table_markdown"] + "\n",
        f"Raw numbers: `bench/results/{name}.json`.\n",
    ]


def write_docs() -> Path:
    """Rewrite docs/bench.md; returns its path."""
    intro = (REPO_ROOT / "bench" / "README_INTRO.md").read_text()
    parts = [intro.rstrip() + "\n"]
    for name, doc in _results():
        parts += _section(name, doc, f"## {TITLES[name]}\n")
    findings = REPO_ROOT / "bench" / "FINDINGS.md"
    if findings.exists():
        parts.append(findings.read_text().rstrip() + "\n")
    DOC.write_text("\n".join(parts))
    return DOC


if __name__ == "__main__":
    print(write_docs())
