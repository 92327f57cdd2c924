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
    tail = _get(url, f"-{_TAIL_BYTES}")
    end = tail.rfind(b"PK\x05\x06")
    if end < 0:
        raise ValueError(f"{url}: no zip end record in the last {_TAIL_BYTES} bytes")
    size, offset = struct.unpack("<II", tail[end + 12 : end + 20])
    directory = _get(url, f"{offset}-{offset + size - 1}")
    position = 0
    while position < len(directory):
        (method, compressed, name_length, extra_length, comment_length, local_offset) = (
            struct.unpack("<H", directory[position + 10 : position + 12])[0],
            struct.unpack("<I", directory[position + 20 : position + 24])[0],
            *struct.unpack("<HHH", directory[position + 28 : position + 34]),
            struct.unpack("<I", directory[position + 42 : position + 46])[0],
        )
        name = directory[position + 46 : position + 46 + name_length].decode("utf-8")
        if name.endswith(".dist-info/METADATA") and name.count("/") == 1:
            header = _get(url, f"{local_offset}-{local_offset + 29}")
            local_name, local_extra = struct.unpack("<HH", header[26:30])
            start = local_offset + 30 + local_name + local_extra
            raw = _get(url, f"{start}-{start + compressed - 1}")
            data = zlib.decompress(raw, -15) if method == 8 else raw
            return data.decode("utf-8")
        position += 46 + name_length + extra_length + comment_length
    raise ValueError(f"{url}: no METADATA in the wheel")
