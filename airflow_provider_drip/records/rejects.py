"""The rejects file: one JSON line per rejected record, rewritten from scratch on every pass.

And the guard that keeps it away from the input: a rejects file written over the source (or
into the directory or glob the source is read from) would empty or change the input mid-sync.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import posixpath
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import fsspec
import msgspec

from airflow_provider_drip.records.errors import InvalidRecordError, Violation
from airflow_provider_drip.records.sources import FileSource, fs_and_path, visible_in_directory
from airflow_provider_drip.records.specs import RejectSpec

SAMPLE_REJECTS = 5
"""Rejects kept in a preflight report for the logs."""


def _rejects_hook(obj: Any) -> Any:
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return dict(obj)
    return repr(obj)


_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_rejects_hook)


class RejectsWriter:
    """Writes ``{"position", "location", "record", "reasons"}`` lines to ``path``."""

    def __init__(self, path: Any) -> None:
        if hasattr(path, "open") and not isinstance(path, str):
            with contextlib.suppress(Exception):  # object stores have no directories
                path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("wb")
        else:
            self._file = fsspec.open(os.fspath(path), "wb", auto_mkdir=True).open()
        self._encode = _ENCODER.encode

    def write(
        self, position: int, raw: Any, violations: list[Violation], location: str | None
    ) -> None:
        line: dict[str, Any] = {"position": position}
        if location:
            line["location"] = location
        line["record"] = raw
        line["reasons"] = [v.as_dict() for v in violations]
        try:
            data = self._encode(line)
        except (TypeError, ValueError, OverflowError, RecursionError):
            line["record"] = _safe_repr(raw)
            data = self._encode(line)
        self._file.write(data + b"\n")

    def close(self) -> None:
        self._file.close()


class RejectSink:
    """What a rejected record does in one pass: raise (``fail``), or count it by rule, keep a
    sample and write it to the rejects file (``skip``). Only rejects pay for any of this."""

    def __init__(
        self,
        spec: RejectSpec,
        by_rule: dict[str, int],
        samples: list[dict[str, Any]] | None,
        location: Callable[[], str | None],
        original: Callable[[Any], Any],
    ) -> None:
        self.fail = spec.fail
        self._by_rule = by_rule
        self._samples = samples
        self._location = location
        self._original = original
        self._writer = (
            RejectsWriter(spec.rejects_path)
            if not self.fail and spec.rejects_path is not None
            else None
        )

    def reject(self, position: int, raw: Any, violations: list[Violation]) -> None:
        where = self._location()
        if self.fail:
            raise InvalidRecordError(position, violations, self._original(raw), where)
        by_rule = self._by_rule
        for v in violations:
            by_rule[v.rule] = by_rule.get(v.rule, 0) + 1
        if self._writer is not None:
            self._writer.write(position, self._original(raw), violations, where)
        samples = self._samples
        if samples is not None and len(samples) < SAMPLE_REJECTS:
            sample: dict[str, Any] = {"position": position}
            if where:
                sample["location"] = where
            sample["reasons"] = [v.as_dict() for v in violations]
            samples.append(sample)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _safe_repr(raw: Any) -> str:
    try:
        text = repr(raw)
    except RecursionError:
        return f"<{type(raw).__name__} nested too deeply to show>"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def check_rejects_path(rejects_path: Any, source: FileSource) -> None:
    """Refuse a ``rejects_path`` that is a source file, or lies where the source is read from.

    Raises ValueError before anything is opened, so nothing is touched.
    """
    fs, path = fs_and_path(rejects_path)
    if _protocols(fs) != _protocols(source.fs):
        return  # another filesystem: cannot be one of the source's files
    target = _canonical(fs, path)
    root = _canonical(source.fs, source.root)
    for file in source.files:
        if _canonical(source.fs, file) == target:
            raise ValueError(
                f"rejects_path {rejects_path} is the source file {file}: writing rejects there "
                "would overwrite the records being read. Give rejects_path another file."
            )
    if source.kind == "glob":
        if fnmatch.fnmatchcase(target, root):
            raise ValueError(
                f"rejects_path {rejects_path} matches the source glob {source.display}: the "
                "rejects file would be read back as input on the next pass. Put it elsewhere."
            )
    elif (
        source.kind == "directory"
        and target.startswith(root.rstrip("/") + "/")
        and visible_in_directory(target[len(root) :])  # hidden and _marker files are not read
    ):
        raise ValueError(
            f"rejects_path {rejects_path} is inside the source directory {source.display}: "
            "the rejects file would be read back as input on the next pass. Put it elsewhere."
        )


def _protocols(fs: Any) -> frozenset[str]:
    protocol = fs.protocol
    return frozenset((protocol,) if isinstance(protocol, str) else protocol)


def _canonical(fs: Any, path: str) -> str:
    """One spelling per file: symlinks and ``..`` resolved on local disks."""
    if "file" in _protocols(fs) or "local" in _protocols(fs):
        return os.path.realpath(path)
    return posixpath.normpath(fs._strip_protocol(path))
