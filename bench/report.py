"""Render docs/bench.md from the JSON files in bench/results/ (the latest run of each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR

DOC = REPO_ROOT / "docs" / "bench.md"
ORDER = ("throughput", "memory", "budget", "occupancy")
TITLES = {
    "throughput": "1. Pipeline throughput",
    "memory": "2. Memory on big inputs",
    "budget": "3. Rate-budget use",
    "occupancy": "4. Worker occupancy (deferrable vs sleeping)",
}


def _machine(m: dict[str, Any]) -> str:
    return (f"{m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, "
            f"Airflow {m['airflow']}, provider {m['provider']} @ {m['git_commit']}")  # fmt: skip


def write_docs(notes: str | None = None) -> Path:
    intro = (REPO_ROOT / "bench" / "README_INTRO.md").read_text()
    parts = [intro.rstrip() + "\n"]
    for name in ORDER:
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        parts.append(f"## {TITLES[name]}\n")
        parts.append(f"Command: `{doc['command']}` — finished {doc['finished_at']}  ")
        parts.append(f"Machine: {_machine(doc['machine'])}\n")
        parts.append(doc["table_markdown"] + "\n")
        parts.append(f"Raw numbers: `bench/results/{name}.json`.\n")
    findings = REPO_ROOT / "bench" / "FINDINGS.md"
    if findings.exists():
        parts.append(findings.read_text().rstrip() + "\n")
    DOC.write_text("\n".join(parts))
    return DOC
