"""Turn an Airflow ``drip`` connection into validated, token-safe settings.

Shared by DripHook and DripAsyncHook so both read the connection (and scrub the token) the
same way.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_drip.exceptions import DripConfigError
from airflow_provider_drip.resources import DEFAULT_REQUEST_STATUS_PATH
from airflow_provider_drip.version import __version__

DEFAULT_BASE_URL = "https://api.getdrip.com"
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 3600.0
DEADLINE_MARGIN_FACTOR = 1.0
"""An attempt's overall deadline is connect + read timeout + this many read timeouts: the read
timeout bounds each wait for a byte, so a server trickling a byte at a time could otherwise hold
a request (and a worker) for ever; a real answer arrives well within one extra read timeout."""
AUTH_TYPES = ("basic", "bearer")


def is_loopback_host(host: str | None) -> bool:
    """True for localhost and 127.0.0.0/8 / ::1 — the only hosts allowed over plain http."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_base_url(host: str | None, conn_id: str) -> str:
    """Validate the connection's host into a base URL: https, or http only on loopback."""
    raw = (host or "").strip()
    if not raw:
        return DEFAULT_BASE_URL
    if "://" not in raw:
        raw = f"https://{raw}"
    parts = urlsplit(raw)
    if "@" in parts.netloc:
        raise DripConfigError(
            f"Connection {conn_id!r}: host {host!r} carries user info (user@host): the request "
            f"would go to {parts.hostname!r}, with the API token. Put the account id in the "
            "login and the token in the password, and only the base URL in the host"
        )
    if parts.query or parts.fragment or "?" in raw or "#" in raw:
        raise DripConfigError(
            f"Connection {conn_id!r}: host {host!r} has a query or fragment; the host must be "
            "a base URL only (e.g. https://api.getdrip.com)"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        parts = parts._replace(netloc="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DripConfigError(
            f"Connection {conn_id!r}: host {host!r} is not a valid API base URL "
            "(expected e.g. https://api.getdrip.com)"
        )
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise DripConfigError(
            f"Connection {conn_id!r}: plain http is only allowed for a loopback host (the local "
            f"emulator); use https for {parts.hostname!r} so the API token is not sent in clear"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def parse_extra(extra: Any, conn_id: str) -> dict[str, Any]:
    if extra in (None, ""):
        return {}
    if isinstance(extra, dict):
        return extra
    try:
        value = json.loads(extra)
    except ValueError as err:
        raise DripConfigError(f"Connection {conn_id!r}: extra is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise DripConfigError(f"Connection {conn_id!r}: extra must be a JSON object")
    return value


def _timeouts(value: Any, conn_id: str) -> tuple[float, float]:
    """``timeout`` extra: one number (read timeout) or ``[connect, read]``."""
    if value is None:
        return DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
    try:
        if isinstance(value, (list, tuple)) and len(value) == 2:
            connect, read = float(value[0]), float(value[1])
        else:
            read = float(value)
            connect = min(DEFAULT_CONNECT_TIMEOUT, read)
    except (TypeError, ValueError):
        raise DripConfigError(
            f"Connection {conn_id!r}: extra 'timeout' must be a number or [connect, read], "
            f"got {value!r}"
        ) from None
    if connect <= 0 or read <= 0:
        raise DripConfigError(f"Connection {conn_id!r}: extra 'timeout' must be positive")
    return connect, read


@dataclass(frozen=True)
class DripConnectionSettings:
    """Everything needed to talk to one Drip account. ``token`` never appears in ``repr``."""

    conn_id: str
    account_id: str
    token: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    auth_type: str = "basic"
    user_agent: str = f"airflow-provider-drip/{__version__}"
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    request_status_path: str = DEFAULT_REQUEST_STATUS_PATH
    rate_limit_wait_seconds: float = DEFAULT_RATE_LIMIT_WAIT_SECONDS
    gzip_requests: bool = False
    """Gzip POST bodies (``Content-Encoding: gzip``), as Drip's own Python client does: batches
    of 1,000 records shrink ~5-10x on the wire, for a few ms of CPU per batch."""

    @classmethod
    def from_fields(
        cls,
        conn_id: str,
        login: str | None,
        password: str | None,
        host: str | None,
        extra: Any = None,
    ) -> DripConnectionSettings:
        """Build settings from the connection's raw fields, naming any missing one."""
        account_id = (login or "").strip()
        token = (password or "").strip()
        missing = [
            label
            for label, value in (
                ("login (Account ID)", account_id),
                ("password (API Token)", token),
            )
            if not value
        ]
        if missing:
            raise DripConfigError(
                f"Connection {conn_id!r} is missing {' and '.join(missing)}: set the Drip "
                "account id as the login and the API token as the password"
            )
        options = parse_extra(extra, conn_id)
        auth_type = str(options.get("auth_type", "basic")).lower()
        if auth_type not in AUTH_TYPES:
            raise DripConfigError(
                f"Connection {conn_id!r}: extra 'auth_type' must be one of {AUTH_TYPES}, "
                f"got {auth_type!r}"
            )
        user_agent = f"airflow-provider-drip/{__version__}"
        if options.get("user_agent"):
            user_agent = f"{user_agent} {options['user_agent']}"
        connect_timeout, read_timeout = _timeouts(options.get("timeout"), conn_id)
        try:
            # the 3.2+ form stores a cleared field as null (or ""): that means the default
            raw_wait = options.get("rate_limit_wait_seconds")
            wait = DEFAULT_RATE_LIMIT_WAIT_SECONDS if raw_wait in (None, "") else float(raw_wait)
            if not math.isfinite(wait) or wait < 0:
                raise ValueError(wait)
        except (TypeError, ValueError):
            raise DripConfigError(
                f"Connection {conn_id!r}: extra 'rate_limit_wait_seconds' must be a number"
            ) from None
        return cls(
            conn_id=conn_id,
            account_id=account_id,
            token=token,
            base_url=normalise_base_url(host, conn_id),
            auth_type=auth_type,
            user_agent=user_agent,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            request_status_path=str(
                options.get("request_status_path") or DEFAULT_REQUEST_STATUS_PATH
            ),
            rate_limit_wait_seconds=wait,
            gzip_requests=_flag(options.get("gzip_requests"), "gzip_requests", conn_id),
        )

    @classmethod
    def from_connection(cls, conn: Any) -> DripConnectionSettings:
        """Build settings from an Airflow ``Connection`` object."""
        host = (conn.host or "").strip()
        port = getattr(conn, "port", None)
        if host and port:
            host = _with_port(host, int(port), conn.conn_id)
        schema = getattr(conn, "schema", None)
        if host and schema in ("http", "https") and "://" not in host:
            host = f"{schema}://{host}"
        return cls.from_fields(conn.conn_id, conn.login, conn.password, host, conn.extra)

    @property
    def attempt_deadline(self) -> float:
        """Seconds one HTTP attempt may take in total, however the server trickles its answer."""
        return self.connect_timeout + self.read_timeout * (1 + DEADLINE_MARGIN_FACTOR)

    @cached_property
    def _secret_forms(self) -> tuple[str, ...]:
        """Every form in which a server could echo the token, longest first."""
        token = self.token
        forms = {token, quote(token, safe=""), self.authorization}
        for raw in (f"{token}:", token):
            encoded = base64.b64encode(raw.encode()).decode()
            forms.update({encoded, encoded.rstrip("=")})
        forms.add(self.authorization.split(" ", 1)[1])
        return tuple(sorted((f for f in forms if f), key=len, reverse=True))

    def scrub(self, text: str) -> str:
        """``text`` with the token and every encoding of it replaced by ``***``.

        The one place server-supplied text (error bodies, messages, Location headers) is cleaned
        before it can reach an exception, ``DripAPIError.body_text`` or a log line: a server (or
        a proxy) may echo the Authorization header it received.
        """
        for form in self._secret_forms:
            if form in text:
                text = text.replace(form, "***")
        return text

    @property
    def authorization(self) -> str:
        """Value of the ``Authorization`` header (Basic token + empty password, or Bearer)."""
        if self.auth_type == "bearer":
            return f"Bearer {self.token}"
        return "Basic " + base64.b64encode(f"{self.token}:".encode()).decode()

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": self.authorization,
            "User-Agent": self.user_agent,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def request_status_url(self, request_id: str) -> str:
        return self.url(
            self.request_status_path.format(account_id=self.account_id, request_id=request_id)
        )

    @property
    def api_host(self) -> str:
        return urlsplit(self.base_url).hostname or ""


def _flag(value: Any, name: str, conn_id: str) -> bool:
    """A boolean extra: JSON true/false, or the strings "true"/"false" (UI forms send text);
    null or an empty string mean unset (false)."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise DripConfigError(f"Connection {conn_id!r}: extra {name!r} must be true or false")


def _with_port(host: str, port: int, conn_id: str) -> str:
    """Add the connection's ``port`` field to ``host`` (with or without a scheme)."""
    if "://" not in host:
        return f"{host}:{port}"
    parts = urlsplit(host)
    try:
        existing = parts.port
    except ValueError:
        return host  # normalise_base_url names the bad port
    if existing is None:
        return parts._replace(netloc=f"{parts.netloc}:{port}").geturl()
    if existing != port:
        raise DripConfigError(
            f"Connection {conn_id!r}: host {host!r} names port {existing} but the port field "
            f"says {port}; keep one"
        )
    return host
