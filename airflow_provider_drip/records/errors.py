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


class InvalidRecordError(ValueError):
    """A record broke a Drip field rule (raised with ``on_invalid="fail"``).

    Carries the record's source ``position``, the first violation's ``field`` and ``rule``, every
    violation in ``violations`` and the original source ``record``.
    """

    def __init__(self, position: int, violations: list[Violation], record: Any) -> None:
        self.position = position
        self.violations = list(violations)
        self.record = record
        first = self.violations[0]
        self.field = first.field
        self.rule = first.rule
        detail = "; ".join(f"{v.field}: {v.message} [{v.rule}]" for v in self.violations)
        super().__init__(f"Invalid record at position {position}: {detail}")

    def __reduce__(self):  # keep picklable (Airflow may pickle task exceptions)
        return (type(self), (self.position, self.violations, self.record))
