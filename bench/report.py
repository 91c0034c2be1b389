"""Render docs/bench.md, and the tables in the README, from bench/results/ (latest run of each)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR

DOC = REPO_ROOT / "docs" / "bench.md"
README = REPO_ROOT / "README.md"
README_START = "<!-- bench:tables:start (bench/report.py rewrites this part) -->"
README_END = "<!-- bench:tables:end -->"
ORDER = ("throughput", "memory", "budget", "occupancy")
TITLES = {
    "throughput": "1. Pipeline throughput",
    "memory": "2. Memory on big inputs",
    "budget": "3. Rate-budget use",
    "occupancy": "4. Worker occupancy (deferrable vs sleeping)",
}
README_TITLES = {
    "throughput": "Throughput, 200,000 subscribers, rate limit off.",
    "memory": "Peak RSS of a child process, 100k vs 1M records.",
    "budget": "Rate budget: 10 requests per 2 s window, 2 % invalid rows.",
    "occupancy": "Worker occupancy under a real scheduler + triggerer.",
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
    """Rewrite docs/bench.md and the README's tables; returns the docs page."""
    intro = (REPO_ROOT / "bench" / "README_INTRO.md").read_text()
    parts = [intro.rstrip() + "\n"]
    readme_parts: list[str] = []
    for name, doc in _results():
        parts += _section(name, doc, f"## {TITLES[name]}\n")
        readme_parts += _section(name, doc, f"**{README_TITLES[name]}** ")
    findings = REPO_ROOT / "bench" / "FINDINGS.md"
    if findings.exists():
        parts.append(findings.read_text().rstrip() + "\n")
    DOC.write_text("\n".join(parts))
    _write_readme_tables("\n".join(readme_parts))
    return DOC


def _write_readme_tables(tables: str) -> None:
    text = README.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise RuntimeError(f"README.md lacks the {README_START!r} ... {README_END!r} markers")
    head = text[: start + len(README_START)]
    README.write_text(f"{head}\n{tables.rstrip()}\n{text[end:]}")


if __name__ == "__main__":
    print(write_docs())
