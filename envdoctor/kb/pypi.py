"""Read releases and wheel METADATA from the package index, without downloading whole wheels.

Used by ``ci/kb-refresh`` and by people sourcing knowledge-base rows; never by the default
test run. The simple index's JSON form (PEP 691) lists files; a wheel's METADATA is read from
the PEP 658 ``.metadata`` file where the index has one, else with HTTP range requests on the
wheel's zip central directory, as pip's lazy wheel does.
"""

from __future__ import annotations

import json
import struct
import urllib.request
import zlib
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

INDEX = "https://pypi.org/simple"
_TIMEOUT_S = 60
_TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class IndexFile:
    filename: str
    url: str
    requires_python: str | None
    has_metadata_file: bool
    yanked: bool


def list_files(project: str, index: str = INDEX) -> list[IndexFile]:
    request = urllib.request.Request(f"{index}/{project}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
        data = json.load(response)
    return [
        IndexFile(
            filename=item["filename"],
            url=item["url"],
            requires_python=item.get("requires-python"),
            has_metadata_file=bool(item.get("core-metadata") or item.get("dist-info-metadata")),
            yanked=bool(item.get("yanked")),
        )
        for item in data["files"]
    ]


def wheel_metadata(file: IndexFile) -> Message:
    """The wheel's METADATA as an email message (``get_all("Requires-Dist")`` etc.)."""
    if file.has_metadata_file:
        text = _get(file.url.split("#", 1)[0] + ".metadata").decode("utf-8")
    else:
        text = _metadata_by_range(file.url.split("#", 1)[0])
    return HeaderParser().parsestr(text)


def _get(url: str, byte_range: str | None = None) -> bytes:
    headers = {"Range": f"bytes={byte_range}"} if byte_range else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S) as response:
        data: bytes = response.read()
        return data


def _metadata_by_range(url: str) -> str:
    for name, entry in zip_members(url).items():
        if name.endswith(".dist-info/METADATA") and name.count("/") == 1:
            return read_member(url, entry).decode("utf-8")
    raise ValueError(f"{url}: no METADATA in the wheel")


@dataclass(frozen=True)
class ZipEntry:
    method: int
    compressed: int
    offset: int


def zip_members(url: str) -> dict[str, ZipEntry]:
    """The members of a remote zip (a wheel), read from its central directory by range requests."""
    tail = _get(url, f"-{_TAIL_BYTES}")
    end = tail.rfind(b"PK\x05\x06")
    if end < 0:
        raise ValueError(f"{url}: no zip end record in the last {_TAIL_BYTES} bytes")
    size, offset = struct.unpack("<II", tail[end + 12 : end + 20])
    if 0xFFFFFFFF in (size, offset):
        locator = tail.rfind(b"PK\x06\x07")
        record_at = struct.unpack("<Q", tail[locator + 8 : locator + 16])[0]
        record = _get(url, f"{record_at}-{record_at + 55}")
        size, offset = struct.unpack("<QQ", record[40:56])
    directory = _get(url, f"{offset}-{offset + size - 1}")
    members: dict[str, ZipEntry] = {}
    position = 0
    while position + 46 <= len(directory):
        method = struct.unpack("<H", directory[position + 10 : position + 12])[0]
        compressed, uncompressed = struct.unpack("<II", directory[position + 20 : position + 28])
        name_length, extra_length, comment_length = struct.unpack("<HHH", directory[position + 28 : position + 34])
        local_offset = struct.unpack("<I", directory[position + 42 : position + 46])[0]
        name_end = position + 46 + name_length
        name = directory[position + 46 : name_end].decode("utf-8")
        extra = directory[name_end : name_end + extra_length]
        compressed, local_offset = _zip64_sizes(extra, uncompressed, compressed, local_offset)
        members[name] = ZipEntry(method, compressed, local_offset)
        position = name_end + extra_length + comment_length
    return members


def _zip64_sizes(extra: bytes, uncompressed: int, compressed: int, offset: int) -> tuple[int, int]:
    """Sizes and offsets too big for 32 bits live in the zip64 extra field."""
    position = 0
    while position + 4 <= len(extra):
        header, length = struct.unpack("<HH", extra[position : position + 4])
        if header == 1:
            values = extra[position + 4 : position + 4 + length]
            cursor = 8 if uncompressed == 0xFFFFFFFF else 0
            if compressed == 0xFFFFFFFF:
                compressed = struct.unpack("<Q", values[cursor : cursor + 8])[0]
                cursor += 8
            if offset == 0xFFFFFFFF:
                offset = struct.unpack("<Q", values[cursor : cursor + 8])[0]
        position += 4 + length
    return compressed, offset


def read_member(url: str, entry: ZipEntry) -> bytes:
    header = _get(url, f"{entry.offset}-{entry.offset + 29}")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    start = entry.offset + 30 + name_length + extra_length
    raw = _get(url, f"{start}-{start + entry.compressed - 1}")
    return zlib.decompress(raw, -15) if entry.method == 8 else raw
