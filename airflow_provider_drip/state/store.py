"""The sync state: which key digests Drip accepted, with which content digest, across runs.

Usage in a changed-mode sync::

    state = SyncStateStore.open(state_path, account_id, "subscribers", "dag.task", key_spec=..)
    if not state.holds(content):                # Drip has not accepted these bytes: send
        ...
    state.mark_accepted(pairs_of_accepted_batch)
    state.commit()                              # after each accepted batch, or every few

``holds`` (per record, fast) and ``classify`` ("new" | "changed" | "unchanged", exact but with
a scan of the keys) answer from the state as last committed (by this object, or by the run
before it); ``mark_accepted`` only queues, so a rejected or unsent record never enters the
state. A commit writes the whole state atomically and fails with ``SyncStateConflictError`` if
anyone else committed since this object opened or last committed.

Concurrency, honestly: on a local or NFS folder commits take an exclusive ``flock`` around
"compare generation, replace file", so the check is exact. On S3 the PUT is conditional on the
ETag read at commit (``If-Match``, or ``If-None-Match`` for a first state), which is a true
compare-and-swap on AWS S3 and stores that honour those headers. Other object stores get
"compare generation, write, read back our writer id": two commits interleaving within that
read-write-read window can still lose the first one's update without an error, so runs that
share a state must be serialised there.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from airflow.sdk import ObjectStoragePath

from airflow_provider_drip.state import columns, storage
from airflow_provider_drip.state.digest import DIGEST_VERSION, KeySpec, key_spec_for
from airflow_provider_drip.state.errors import SyncStateConflictError, SyncStateCorruptError
from airflow_provider_drip.state.file_format import (
    StateFormatError,
    StateHeader,
    encode_parts,
    read_header,
    read_state,
)
from airflow_provider_drip.state.paths import state_file

log = logging.getLogger(__name__)

Verdict = Literal["new", "changed", "unchanged"]
StatePathLike = str | os.PathLike[str] | ObjectStoragePath


@dataclass(frozen=True)
class _Seen:
    """What this object last knew to be on storage: None = no state, or a header's identity."""

    generation: int
    writer_id: bytes


_CORRUPT = "corrupt"


@dataclass(frozen=True)
class StateInfo:
    """What ``show`` prints about a stored state."""

    path: str
    exists: bool
    count: int = 0
    generation: int = 0
    committed_at: float | None = None
    size_bytes: int = 0
    digest_version: int | None = None
    key_spec: str | None = None

    @property
    def bytes_per_key(self) -> float | None:
        return self.size_bytes / self.count if self.count else None


class ChangeState(Protocol):
    """What a changed-mode sync needs from its state: the seam for fakes in loop tests."""

    path: object
    pending: int
    full_refresh: bool
    holds: Callable[[int], bool]

    def known_keys(self, keys: Iterable[int]) -> set[int]: ...
    def mark_accepted(self, pairs: Iterable[tuple[int, int]]) -> None: ...
    def commit(self) -> int: ...


class SyncState:
    """One open state (a ``ChangeState``). Not thread-safe; one per sync."""

    def __init__(
        self,
        path: ObjectStoragePath,
        account_id: str,
        resource: str,
        state_key: str,
        *,
        key_spec: str,
        seen: _Seen | str | None,
        keys: array,
        contents: array,
        full_refresh: bool,
    ) -> None:
        self.path = path
        self.account_id = account_id
        self.resource = resource
        self.state_key = state_key
        self.key_spec = key_spec
        self.full_refresh = full_refresh
        self._seen = seen
        self._keys = keys
        self._contents = contents
        self._index = columns.DigestIndex(contents)
        self.holds: Callable[[int], bool] = self._index.contains
        """``holds(content)``: True when Drip accepted a payload with this content digest and
        it is still the last one accepted for its key. The payload holds its key fields, so the
        same bytes mean the same key: the per-record question of a changed-mode pass, asked
        without decoding the record. Follows every commit."""
        self._pending_keys = array("Q")
        self._pending_contents = array("Q")
        self._dirty = full_refresh  # a full refresh replaces the state even if nothing is sent
        self.committed_at: float | None = None

    def __repr__(self) -> str:
        return f"SyncState({str(self.path)!r}, keys={len(self._keys)}, pending={self.pending})"

    @property
    def count(self) -> int:
        """Keys in the state as last committed (or loaded)."""
        return len(self._keys)

    @property
    def pending(self) -> int:
        """Accepted pairs queued for the next commit."""
        return len(self._pending_keys)

    @property
    def generation(self) -> int:
        return self._seen.generation if isinstance(self._seen, _Seen) else 0

    def classify(self, key: int, content: int) -> Verdict:
        """Compare a record's digests with what Drip last accepted for its key.

        Exact, but "changed" and "new" scan the key column (C speed, ~1 ms a million keys):
        for tests and tools; a pass asks ``holds`` per record.
        """
        keys, contents = self._keys, self._contents
        i = self._index.find(content)
        if i >= 0:
            n = len(contents)
            while i < n and contents[i] == content:
                if keys[i] == key:
                    return "unchanged"
                i += 1
        return "changed" if key in keys else "new"

    def known_keys(self, keys: Iterable[int]) -> set[int]:
        """Which of ``keys`` the state holds (one C-level scan of the key column)."""
        wanted = set(keys)
        return wanted.intersection(self._keys) if wanted else wanted

    def mark_accepted(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Queue ``(key, content)`` digests of records in a batch Drip accepted."""
        append_k, append_c = self._pending_keys.append, self._pending_contents.append
        for key, content in pairs:
            append_k(key)
            append_c(content)
        self._dirty = True

    def commit(self) -> int:
        """Write the state with this run's accepted pairs merged in; returns the generation.

        Atomic (a reader sees the old or the new state, never half) and checked: raises
        ``SyncStateConflictError`` if another writer committed since this object last read or
        wrote the state. On any error the queued pairs stay queued.
        """
        if not self._dirty:
            return self.generation
        # The sorts consume the queue (memory: a first run queues every key). Their result is
        # the same queue, one pair per key (the last accepted), so it stays queued if the write
        # fails. Only a failure inside a sort (MemoryError) loses queued pairs: those records
        # would be sent again next run, never wrongly skipped.
        upd_k, upd_c = columns.sort_unique(self._pending_keys, self._pending_contents)
        upd_k, upd_c = columns.sort_by_content(upd_k, upd_c)
        self._pending_keys, self._pending_contents = upd_k, upd_c
        new_k, new_c = columns.replace(self._keys, self._contents, upd_k, upd_c)
        del upd_k, upd_c
        writer_id = uuid.uuid4().bytes
        now = time.time()
        header = StateHeader(
            self.account_id,
            self.resource,
            self.state_key,
            self.generation + 1,
            len(new_k),
            now,
            writer_id,
            DIGEST_VERSION,
            key_spec=self.key_spec,
        )
        parts = encode_parts(header, new_k, new_c)
        with storage.commit_lock(self.path):
            current, tag = _current(self.path)
            self._check_unchanged(current)
            try:
                storage.write_atomic(
                    self.path, parts, if_match=tag, if_absent=current is None and tag is None
                )
            except storage.PreconditionFailed:
                raise self._conflict("its object changed while this run committed") from None
        if not storage.is_local(self.path):
            after, _ = _current(self.path)
            if not (isinstance(after, _Seen) and after.writer_id == writer_id):
                # Where the store ignores conditional PUTs this is the only sign of a lost
                # update; where it honours them, only a writer that opened after this commit
                # can be there (it read this commit), so the alarm errs on the safe side.
                raise self._conflict("another writer replaced it right after this commit")
        self._seen = _Seen(header.generation, writer_id)
        self._keys, self._contents = new_k, new_c
        self._index = columns.DigestIndex(new_c)
        self.holds = self._index.contains
        self._pending_keys, self._pending_contents = array("Q"), array("Q")
        self._dirty = False
        self.committed_at = now
        return header.generation

    def reset(self) -> bool:
        """Forget everything: remove the stored state and empty this object."""
        with storage.commit_lock(self.path):
            removed = storage.remove(self.path)
        self._seen = None
        self._keys, self._contents = array("Q"), array("Q")
        self._index = columns.DigestIndex(self._contents)
        self.holds = self._index.contains
        self._pending_keys, self._pending_contents = array("Q"), array("Q")
        self._dirty = False
        return removed

    def _check_unchanged(self, current: _Seen | str | None) -> None:
        expected = self._seen
        if current == expected:
            return
        if expected is None:
            raise self._conflict("another run created it after this one opened it")
        if current is None:
            raise self._conflict("it was removed (reset?) after this run opened it")
        if expected == _CORRUPT:
            raise self._conflict("it was rewritten after this run found it unreadable")
        if current == _CORRUPT:
            raise self._conflict("it became unreadable after this run opened it")
        assert isinstance(current, _Seen) and isinstance(expected, _Seen)
        raise self._conflict(
            f"generation {current.generation} is on storage, this run expected "
            f"{expected.generation}"
        )

    def _conflict(self, why: str) -> SyncStateConflictError:
        return SyncStateConflictError(
            f"Sync state {self.path} was changed by another writer: {why}. Two runs are "
            "using the same state_key at once; serialise them (max_active_runs=1, a pool) or "
            "give them different state_key values. This run's accepted records may not be "
            "recorded, so the next run may send them again.",
            str(self.path),
        )


def _current(path: ObjectStoragePath) -> tuple[_Seen | str | None, str | None]:
    """The identity of the state on storage now, plus its ETag where conditional PUTs exist.

    The ETag is read before the header: if the object changes in between, the header shows a
    newer generation (a conflict) or the conditional PUT fails on the stale ETag.
    """
    tag = None
    if storage.supports_conditional_put(path):
        tag = storage.etag(path)
        if tag is None:
            return None, None
    elif not storage.exists(path):
        return None, None
    try:
        with storage.open_read(path, header_only=True) as f:
            header = read_header(f)
    except FileNotFoundError:
        return None, None
    except StateFormatError:
        return _CORRUPT, tag
    return _Seen(header.generation, header.writer_id), tag


class SyncStateStore:
    """Opens, inspects and resets states under a ``state_path`` (path, URI or ObjectStoragePath)."""

    @staticmethod
    def path_for(
        state_path: StatePathLike, account_id: str, resource: str, state_key: str
    ) -> ObjectStoragePath:
        return state_file(state_path, account_id, resource, state_key)

    @classmethod
    def open(
        cls,
        state_path: StatePathLike,
        account_id: str,
        resource: str,
        state_key: str,
        *,
        key_spec: KeySpec | None = None,
        full_refresh: bool = False,
    ) -> SyncState:
        """Load the state (or start empty). ``full_refresh`` ignores the stored keys: every
        record classifies as new, and the first commit replaces the state with what this run
        accepted (the old state's generation is still checked).

        ``key_spec`` (default: the resource's change keys) must be the one the state was built
        with: keys taken another way never match, so stale entries would linger.
        """
        account_id = str(account_id)
        spec = (key_spec or key_spec_for(resource)).fingerprint
        path = cls.path_for(state_path, account_id, resource, state_key)

        def state(
            seen: _Seen | str | None, keys: array, contents: array, *, refresh: bool = False
        ) -> SyncState:
            return SyncState(
                path,
                account_id,
                resource,
                state_key,
                key_spec=spec,
                seen=seen,
                keys=keys,
                contents=contents,
                full_refresh=refresh,
            )

        if full_refresh:
            return state(_current(path)[0], array("Q"), array("Q"), refresh=True)
        try:
            with storage.open_read(path) as f:
                header, keys, contents = read_state(f)
        except FileNotFoundError:
            return state(None, array("Q"), array("Q"))
        except StateFormatError as exc:
            raise SyncStateCorruptError(
                f"Sync state {path} cannot be read ({exc}); rerun with full_refresh=True to "
                "rebuild it, or reset it",
                str(path),
            ) from exc
        _check_identity(path, header, account_id, resource, state_key, spec)
        loaded = state(_Seen(header.generation, header.writer_id), keys, contents)
        loaded.committed_at = header.committed_at
        return loaded

    @classmethod
    def info(
        cls, state_path: StatePathLike, account_id: str, resource: str, state_key: str
    ) -> StateInfo:
        """Header facts and size on storage, without loading the keys."""
        path = cls.path_for(state_path, str(account_id), resource, state_key)
        if not storage.exists(path):
            return StateInfo(str(path), exists=False)
        try:
            with storage.open_read(path, header_only=True) as f:
                header = read_header(f)
        except StateFormatError as exc:
            raise SyncStateCorruptError(
                f"Sync state {path} cannot be read ({exc})", str(path)
            ) from exc
        return StateInfo(
            str(path),
            exists=True,
            count=header.count,
            generation=header.generation,
            committed_at=header.committed_at,
            size_bytes=storage.size(path),
            digest_version=header.digest_version,
            key_spec=header.key_spec,
        )

    @classmethod
    def reset(
        cls, state_path: StatePathLike, account_id: str, resource: str, state_key: str
    ) -> bool:
        """Remove the stored state; True when there was one."""
        path = cls.path_for(state_path, str(account_id), resource, state_key)
        with storage.commit_lock(path):
            return storage.remove(path)


def _check_identity(
    path: ObjectStoragePath,
    header: StateHeader,
    account_id: str,
    resource: str,
    state_key: str,
    key_spec: str,
) -> None:
    if header.digest_version != DIGEST_VERSION:
        raise SyncStateCorruptError(
            f"Sync state {path} was written with digest version {header.digest_version}, this "
            f"provider uses {DIGEST_VERSION}; rerun with full_refresh=True to rebuild it",
            str(path),
        )
    found = (header.account_id, header.resource, header.state_key)
    if found != (account_id, resource, state_key):
        raise SyncStateCorruptError(
            f"Sync state {path} belongs to account/resource/state_key {found}, not "
            f"{(account_id, resource, state_key)}",
            str(path),
        )
    if header.key_spec != key_spec:
        raise SyncStateCorruptError(
            f"Sync state {path} was built with key fields {header.key_spec}, this task uses "
            f"{key_spec}; rerun with full_refresh=True to rebuild it for the new key fields, "
            "or use another state_key",
            str(path),
        )
