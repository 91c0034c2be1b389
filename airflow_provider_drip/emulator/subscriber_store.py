"""Subscribers as the emulator shows them on read-back (``GET /v2/{acct}/subscribers/{id}``).

Writes are cheap on purpose (a batch of 1000 upserts must not slow the server): each accepted
subscriber/unsubscribe record is appended, as its canonical JSON bytes, to the pending list of the
person it names; the merge into a profile happens when somebody reads that person (or when a
person's pending list grows long). Callers hold the emulator's lock.
"""

from __future__ import annotations

from typing import Any

import msgspec

_decode = msgspec.json.Decoder().decode
_FOLD_AFTER = 32
_NOT_COPIED = frozenset(
    {"id", "email", "new_email", "initial_status", "custom_fields", "tags", "remove_tags"}
)


class People:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.profiles: dict[str, dict[str, Any] | None] = {}
        """Merged profiles; None until the person's first merge (saves memory for bulk loads)."""
        self.pending: dict[str, list[tuple[bytes, str | None, str]]] = {}
        self.by_email: dict[str, str] = {}
        self.by_visitor: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.profiles)

    def note(self, rec: dict[str, Any], canonical: bytes, status: str | None, now: str) -> None:
        """Remember one accepted record (``status``: forced status, e.g. unsubscribed)."""
        email = rec.get("email")
        if email.__class__ is str and email:
            key = self.by_email.get(email.lower())  # type: ignore[union-attr]
        elif rec.get("id") not in (None, ""):
            key = str(rec["id"])
            if key not in self.profiles:
                return  # an unknown Drip id cannot create a person
        elif rec.get("visitor_uuid"):
            key = self.by_visitor.get(str(rec["visitor_uuid"]))
        else:
            return
        if key is None:
            if len(self.profiles) >= self.cap:
                return
            key = f"emu{len(self.profiles) + 1:017x}"
            self.profiles[key] = None
            self.pending[key] = []
            if email:
                self.by_email[email.lower()] = key  # type: ignore[union-attr]
        pending = self.pending[key]
        pending.append((canonical, status, now))
        if rec.get("new_email") or rec.get("visitor_uuid") or len(pending) > _FOLD_AFTER:
            self._fold(key)  # identity changes must reach the indexes now

    def _fold(self, key: str) -> dict[str, Any]:
        profile = self.profiles[key]
        for canonical, status, created_at in self.pending[key]:
            rec = _decode(canonical)
            if profile is None:
                profile = {"id": key, "status": rec.get("initial_status") or "active",
                           "email": rec.get("email"), "custom_fields": {}, "tags": [],
                           "created_at": created_at}  # fmt: skip
                self.profiles[key] = profile
            for name, value in rec.items():
                if name not in _NOT_COPIED:
                    profile[name] = value
            if isinstance(rec.get("custom_fields"), dict):
                profile["custom_fields"].update(rec["custom_fields"])
            tags = profile["tags"]
            for tag in rec.get("tags") or []:
                if tag not in tags:
                    tags.append(tag)
            for tag in rec.get("remove_tags") or []:
                if tag in tags:
                    tags.remove(tag)
            if rec.get("new_email"):
                self.by_email.pop(str(profile.get("email") or "").lower(), None)
                profile["email"] = rec["new_email"]
                self.by_email[str(rec["new_email"]).lower()] = key
            if rec.get("visitor_uuid"):
                self.by_visitor[str(rec["visitor_uuid"])] = key
            if status:
                profile["status"] = status
        self.pending[key] = []
        assert profile is not None  # a person exists only once a record named them
        return profile

    def find(self, id_or_email: str) -> dict[str, Any] | None:
        """A copy of the person named by email (any case), Drip id or visitor uuid."""
        key = (
            self.by_email.get(id_or_email.lower())
            or (id_or_email if id_or_email in self.profiles else None)
            or self.by_visitor.get(id_or_email)
        )
        if key is None:
            return None
        profile = self._fold(key)
        return {**profile, "custom_fields": dict(profile["custom_fields"]),
                "tags": list(profile["tags"])}  # fmt: skip
