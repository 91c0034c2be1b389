"""The state file: round trip, size per key, and every kind of damage is an error."""

from __future__ import annotations

import io
import random
from array import array

import pytest

from airflow_provider_drip.state.file_format import (
    StateFormatError,
    StateHeader,
    encode_parts,
    read_header,
    read_state,
)


def _header(**kw) -> StateHeader:
    base = dict(
        account_id="9999999",
        resource="subscribers",
        state_key="dag.täsk",
        generation=3,
        count=0,
        committed_at=1_700_000_000.5,
        writer_id=b"w" * 16,
        digest_version=1,
        key_spec='[["email"],["id"]]',
    )
    base.update(kw)
    return StateHeader(**base)


def _encode(n: int, seed: int = 0) -> tuple[bytes, array, array]:
    rnd = random.Random(seed)
    keys = array("Q", sorted({rnd.getrandbits(64) for _ in range(n)}))
    contents = array("Q", (rnd.getrandbits(64) for _ in range(n)))
    return b"".join(bytes(p) for p in encode_parts(_header(), keys, contents)), keys, contents


def test_round_trip():
    data, keys, contents = _encode(1000)
    header, k2, c2 = read_state(io.BytesIO(data))
    assert (k2, c2) == (keys, contents)
    assert header.count == 1000
    assert (header.account_id, header.resource, header.state_key) == (
        "9999999",
        "subscribers",
        "dag.täsk",
    )
    assert header.generation == 3 and header.committed_at == 1_700_000_000.5
    assert header.writer_id == b"w" * 16
    assert header.key_spec == '[["email"],["id"]]'
    assert read_header(io.BytesIO(data)).generation == 3


def test_a_format_1_file_is_refused_by_version():
    data, _, _ = _encode(3)
    old = data[:8] + (1).to_bytes(2, "little") + data[10:]
    with pytest.raises(StateFormatError, match="format 1 is not supported"):
        read_state(io.BytesIO(old))


def test_empty_state_round_trips():
    data, _, _ = _encode(0)
    header, keys, contents = read_state(io.BytesIO(data))
    assert header.count == 0 and len(keys) == 0 and len(contents) == 0


def test_at_most_24_bytes_per_key_at_100k():
    data, _, _ = _encode(100_000)
    assert len(data) / 100_000 <= 24
    assert len(data) < 100_000 * 16 + 200  # 16 bytes per key plus a small header


@pytest.mark.parametrize("cut", [0, 10, 60, 100, 500, -8, -1])
def test_truncated_file_is_an_error(cut):
    data, _, _ = _encode(100)
    with pytest.raises(StateFormatError):
        read_state(io.BytesIO(data[:cut]))


def test_flipped_body_byte_is_an_error():
    data, _, _ = _encode(100)
    damaged = bytearray(data)
    damaged[-100] ^= 1
    with pytest.raises(StateFormatError, match="body checksum"):
        read_state(io.BytesIO(bytes(damaged)))


def test_flipped_header_byte_is_an_error():
    data, _, _ = _encode(10)
    damaged = bytearray(data)
    damaged[20] ^= 1  # inside the generation field
    with pytest.raises(StateFormatError, match="header checksum"):
        read_header(io.BytesIO(bytes(damaged)))


def test_foreign_file_and_trailing_bytes_are_errors():
    with pytest.raises(StateFormatError, match="magic"):
        read_state(io.BytesIO(b"PK\x03\x04" + b"\0" * 200))
    data, _, _ = _encode(10)
    with pytest.raises(StateFormatError, match="trailing"):
        read_state(io.BytesIO(data + b"\0"))


def test_columns_must_match():
    with pytest.raises(ValueError):
        encode_parts(_header(), array("Q", [1, 2]), array("Q", [1]))
