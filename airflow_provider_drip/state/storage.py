"""Whole-object reads and atomic writes through ``ObjectStoragePath``, local or remote.

A reader must never see half a state. Locally that means write a temporary file beside the
target, fsync, then ``os.replace``. On object stores a single PUT is already all-or-nothing, so
the object is written in one call (``pipe_file``) and never streamed through a file handle,
whose ``close()`` after an exception would upload the part written so far. On S3 the PUT can
also be conditional (``If-Match`` / ``If-None-Match``), which turns the state's
generation check into a real compare-and-swap.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk import ObjectStoragePath
from fsspec.implementations.local import LocalFileSystem

Buffer = bytes | bytearray | memoryview


class PreconditionFailed(Exception):
    """The store refused a conditional write: someone else changed the object first."""


def as_storage_path(value: str | os.PathLike[str] | ObjectStoragePath) -> ObjectStoragePath:
    if isinstance(value, ObjectStoragePath):
        return value
    return ObjectStoragePath(os.fspath(value))


def is_local(path: ObjectStoragePath) -> bool:
    return isinstance(path.fs, LocalFileSystem)


def supports_conditional_put(path: ObjectStoragePath) -> bool:
    """True for S3 (s3fs passes ``IfMatch`` / ``IfNoneMatch`` to ``put_object``)."""
    protocols = path.fs.protocol
    protocols = (protocols,) if isinstance(protocols, str) else tuple(protocols)
    return any(p in ("s3", "s3a") for p in protocols)


def exists(path: ObjectStoragePath) -> bool:
    if is_local(path):
        return os.path.exists(path.path)
    with contextlib.suppress(Exception):
        path.fs.invalidate_cache(path.path)
    return path.fs.exists(path.path)


def etag(path: ObjectStoragePath) -> str | None:
    """The object's current ETag (remote stores), fetched fresh; None when missing."""
    with contextlib.suppress(Exception):
        path.fs.invalidate_cache(path.path)
    try:
        info = path.fs.info(path.path)
    except FileNotFoundError:
        return None
    tag = info.get("ETag") or info.get("etag")
    return str(tag) if tag else None


@contextlib.contextmanager
def open_read(path: ObjectStoragePath, *, header_only: bool = False) -> Iterator[Any]:
    """A binary reader; ``header_only`` asks remote stores for small range reads."""
    if is_local(path):
        with open(path.path, "rb") as f:
            yield f
        return
    kwargs: dict[str, Any] = {"block_size": 4096, "cache_type": "none"} if header_only else {}
    with contextlib.suppress(Exception):
        path.fs.invalidate_cache(path.path)
    with path.fs.open(path.path, "rb", **kwargs) as f:
        yield f


def write_atomic(
    path: ObjectStoragePath,
    parts: Sequence[Buffer],
    *,
    if_match: str | None = None,
    if_absent: bool = False,
) -> None:
    """Replace ``path`` with the concatenation of ``parts``, all or nothing.

    ``if_match`` / ``if_absent`` make the write conditional where the store supports it
    (S3); elsewhere they are ignored and the caller's own checks are all there is.
    """
    if is_local(path):
        _write_local(path.path, parts)
        return
    data = b"".join(parts)
    kwargs: dict[str, Any] = {}
    if supports_conditional_put(path):
        if if_match is not None:
            kwargs["IfMatch"] = if_match
        elif if_absent:
            kwargs["IfNoneMatch"] = "*"
    parent = path.parent
    with contextlib.suppress(Exception):
        parent.fs.makedirs(parent.path, exist_ok=True)
    try:
        path.fs.pipe_file(path.path, data, **kwargs)
    except Exception as exc:
        if kwargs and _is_precondition_failure(exc):
            raise PreconditionFailed(str(path)) from exc
        raise


def _is_precondition_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        text = f"{type(seen).__name__} {seen}"
        if "PreconditionFailed" in text or "412" in text or "ConditionalRequestConflict" in text:
            return True
        if isinstance(seen, FileExistsError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _write_local(target: str, parts: Sequence[Buffer]) -> None:
    directory = os.path.dirname(target) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove(path: ObjectStoragePath) -> bool:
    """Delete ``path`` if it exists; True when something was removed."""
    if is_local(path):
        try:
            os.unlink(path.path)
        except FileNotFoundError:
            return False
        return True
    if not exists(path):
        return False
    path.fs.rm_file(path.path)
    return True


def size(path: ObjectStoragePath) -> int:
    if is_local(path):
        return os.path.getsize(path.path)
    with contextlib.suppress(Exception):
        path.fs.invalidate_cache(path.path)
    return int(path.fs.info(path.path)["size"])


@contextlib.contextmanager
def commit_lock(path: ObjectStoragePath) -> Iterator[None]:
    """Serialise check-and-write between processes sharing a local (or NFS) folder.

    An exclusive ``flock`` on ``<path>.lock`` makes "read generation, compare, replace" one
    step for every committer on the same filesystem. Object stores have no such lock; there the
    conditional PUT (S3) or the caller's read-back check covers the race.
    """
    if not is_local(path):
        yield
        return
    import fcntl

    os.makedirs(os.path.dirname(path.path) or ".", exist_ok=True)
    fd = os.open(path.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
