"""A small client for the emulator's unauthenticated control API (``/_emulator/...``)."""

from __future__ import annotations

from typing import Any

import requests


class EmulatorControl:
    """``stats()``, ``reset()``, ``configure(**options)``, ``config()``, ``records(resource)``,
    ``advance_clock(seconds)``."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(
            method, f"{self.url}/_emulator/{path}", timeout=self.timeout, **kwargs
        )
        if response.status_code >= 400:
            raise ValueError(f"emulator control {method} {path}: {response.text}")
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def reset(self, keep_config: bool = False) -> dict[str, Any]:
        """Clear all state; also restore the startup config unless ``keep_config``."""
        return self._call("POST", "reset", params={"keep_config": "1" if keep_config else "0"})

    def config(self) -> dict[str, Any]:
        return self._call("GET", "config")

    def configure(self, **options: Any) -> dict[str, Any]:
        """Change options (see ``EmulatorConfig``); returns the whole new config."""
        return self._call("POST", "config", json=options)

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward (rate windows, v3 processing) without sleeping;
        returns the total offset since the last reset."""
        return self._call("POST", "clock", json={"advance": seconds})["offset_seconds"]

    def records(
        self, resource: str, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The stored (accepted) records of ``resource``, oldest first."""
        params: dict[str, int] = {"offset": offset}
        if limit is not None:
            params["limit"] = limit
        return self._call("GET", f"records/{resource}", params=params)["records"]

    def close(self) -> None:
        self._session.close()
