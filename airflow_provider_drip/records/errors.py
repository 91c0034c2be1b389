"""What a rejected record looks like: violations and the error raised in ``on_invalid="fail"``."""

from __future__ import annotations

from typing import Any, NamedTuple


class Violation(NamedTuple):
    """One broken rule: ``field`` is a dotted path (``items[0].price``), ``rule`` a stable name."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


def describe_position(position: int, location: str | None) -> str:
    """``position 4 (people.csv, CSV line 6)``: the input position and where it is in a file."""
    return f"position {position} ({location})" if location else f"position {position}"


class InvalidRecordError(ValueError):
    """A record broke a Drip field rule (raised with ``on_invalid="fail"``).

    Carries the record's source ``position``, where it is in its file (``location``, e.g.
    ``"people.csv, CSV line 6"``; None for in-memory records), the first violation's ``field``
    and ``rule``, every violation in ``violations`` and the original source ``record``.
    """

    def __init__(
        self,
        position: int,
        violations: list[Violation],
        record: Any,
        location: str | None = None,
    ) -> None:
        self.position = position
        self.location = location
        self.violations = list(violations)
        self.record = record
        first = self.violations[0]
        self.field = first.field
        self.rule = first.rule
        detail = "; ".join(f"{v.field}: {v.message} [{v.rule}]" for v in self.violations)
        where = describe_position(position, location)
        super().__init__(f"Invalid record at {where}: {detail}")

    def __reduce__(self):  # keep picklable (Airflow may pickle task exceptions)
        return (type(self), (self.position, self.violations, self.record, self.location))


class SourceFileError(ValueError):
    """A source file cannot be read on (truncated gzip, corrupt Parquet, an oversized CSV cell):
    a file-level error, so no later record of that file can be trusted. Names the file and how
    far reading got."""

    def __init__(self, path: str, where: str, rule: str, problem: str) -> None:
        self.path = path
        self.where = where
        self.rule = rule
        self.problem = problem
        at = f" at {where}" if where else ""
        super().__init__(f"Cannot read Drip record source {path}{at}: {problem} [{rule}]")

    def __reduce__(self):
        return (type(self), (self.path, self.where, self.rule, self.problem))


class UnknownColumnsError(ValueError):
    """``field_map`` names source columns that no record had: most likely a typo, and every
    record then lacks the field it was meant to fill. Raised by the preflight in fail mode
    (nothing sent); skip mode logs it as a warning."""

    def __init__(self, columns: list[str], records_read: int, source: str) -> None:
        self.columns = list(columns)
        self.records_read = records_read
        self.source = source
        names = ", ".join(repr(c) for c in self.columns)
        super().__init__(
            f"field_map names column(s) {names} that none of the {records_read} records of "
            f"{source} has (a typo?); nothing was sent"
        )

    def __reduce__(self):
        return (type(self), (self.columns, self.records_read, self.source))
