"""The root group's text attributes of an HDF5 file, read without h5py: what Keras' legacy
``model.save("model.h5")`` records there (``keras_version``, ``backend``).

Only the path to them is parsed, following the HDF5 File Format Specification (version 3.0): the
superblock (versions 0 to 3) gives the root group's object header; its messages (object header
version 1, or version 2 "OHDR", with continuation blocks) hold attribute messages (versions 1 to
3); a string attribute's value is inline (fixed-length) or in a global heap collection
(variable-length). Every read is bounded: the messages visited, the continuation blocks, the
length of a value.
"""

from __future__ import annotations

import os
from typing import IO

SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_MESSAGES = 10_000
MAX_BLOCKS = 100
MAX_VALUE = 1 << 20  # a text attribute's value, read at most
_ATTRIBUTE, _CONTINUATION = 0x000C, 0x0010
_STRING, _VARIABLE = 3, 9


class Hdf5Problem(Exception):
    """Not an HDF5 file, or one whose root attributes cannot be read."""


class _File:
    """Reads at offsets within the file, each checked against its size."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.size = os.fstat(stream.fileno()).st_size
        self.offsets = 8
        self.lengths = 8

    def read(self, at: int, size: int) -> bytes:
        if at < 0 or size < 0 or at + size > self.size:
            raise Hdf5Problem(f"a structure at byte {at} runs past the end of the file (truncated)")
        self.stream.seek(at)
        return self.stream.read(size)

    def number(self, data: bytes, at: int, size: int) -> int:
        if at + size > len(data):
            raise Hdf5Problem("a structure cut short")
        return int.from_bytes(data[at : at + size], "little")


def root_text_attributes(stream: IO[bytes], wanted: frozenset[str]) -> dict[str, str]:
    """The root group's attributes named in ``wanted`` that hold text, by name."""
    file = _File(stream)
    header = _root_object_header(file)
    found: dict[str, str] = {}
    for kind, body in _messages(file, header):
        if kind == _ATTRIBUTE:
            named = _attribute(file, body, wanted)
            if named is not None:
                found[named[0]] = named[1]
    return found


def _root_object_header(file: _File) -> int:
    head = file.read(0, min(file.size, 128))
    if not head.startswith(SIGNATURE) or len(head) < 12:
        raise Hdf5Problem("no HDF5 signature at the start of the file")
    version = head[8]
    if version in (0, 1):
        file.offsets, file.lengths = head[13], head[14]
        # Then K values and flags (8 bytes; version 1 adds 4), four addresses, and the root group's
        # symbol table entry: its link name offset, then its object header's address.
        entry = 24 + (4 if version == 1 else 0) + 4 * file.offsets
        return file.number(head, entry + file.offsets, file.offsets)
    if version in (2, 3):
        file.offsets, file.lengths = head[9], head[10]
        # Flags (1), then base, extension, end-of-file and root object header addresses.
        return file.number(head, 12 + 3 * file.offsets, file.offsets)
    raise Hdf5Problem(f"superblock version {version}: not one this reader knows")


def _messages(file: _File, address: int) -> list[tuple[int, bytes]]:
    """Every message of the object header at ``address``, continuation blocks included."""
    first = file.read(address, 16)
    if first.startswith(b"OHDR"):
        return _messages_v2(file, address)
    if first[0] != 1:
        raise Hdf5Problem(f"object header version {first[0]}: not one this reader knows")
    blocks = [(address + 16, file.number(first, 8, 4))]
    found: list[tuple[int, bytes]] = []
    while blocks:
        if len(blocks) + len(found) > MAX_MESSAGES:
            raise Hdf5Problem("more object header messages than this reader reads")
        start, length = blocks.pop(0)
        data = file.read(start, length)
        at = 0
        while at + 8 <= len(data):
            kind, size = file.number(data, at, 2), file.number(data, at + 2, 2)
            body = data[at + 8 : at + 8 + size]
            found.append((kind, body))
            if kind == _CONTINUATION:
                blocks.append(_continuation(file, body))
            at += 8 + size
        if len(found) > MAX_MESSAGES or len(blocks) > MAX_BLOCKS:
            raise Hdf5Problem("more object header messages than this reader reads")
    return found


def _messages_v2(file: _File, address: int) -> list[tuple[int, bytes]]:
    head = file.read(address, 32)
    flags = head[5]
    at = 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
    width = 1 << (flags & 0x03)
    chunk = file.number(head, at, width)
    blocks = [(address + at + width, chunk, False)]
    found: list[tuple[int, bytes]] = []
    while blocks:
        start, length, signed = blocks.pop(0)
        data = file.read(start, length)
        if signed and not data.startswith(b"OCHK"):
            raise Hdf5Problem("a continuation block without its signature")
        at, end = (4 if signed else 0), len(data) - (4 if signed else 0)  # a checksum ends each block
        while at + 4 <= end:
            kind, size = data[at], file.number(data, at + 1, 2)
            at += 4 + (2 if flags & 0x04 else 0)
            body = data[at : at + size]
            found.append((kind, body))
            if kind == _CONTINUATION:
                continued, continued_length = _continuation(file, body)
                blocks.append((continued, continued_length, True))
            at += size
        if len(found) > MAX_MESSAGES or len(blocks) > MAX_BLOCKS:
            raise Hdf5Problem("more object header messages than this reader reads")
    return found


def _continuation(file: _File, body: bytes) -> tuple[int, int]:
    return file.number(body, 0, file.offsets), file.number(body, file.offsets, file.lengths)


def _attribute(file: _File, body: bytes, wanted: frozenset[str]) -> tuple[str, str] | None:
    """An attribute message's name and text value, when it is one of ``wanted`` and holds text."""
    version = body[0] if body else 0
    if version not in (1, 2, 3):
        return None
    name_size, type_size, space_size = (file.number(body, at, 2) for at in (2, 4, 6))
    at = 8 + (1 if version == 3 else 0)  # version 3 records the name's character set

    def padded(size: int) -> int:
        return (size + 7) // 8 * 8 if version == 1 else size

    name = body[at : at + name_size].rstrip(b"\x00").decode("utf-8", "replace")
    if name not in wanted:
        return None
    at += padded(name_size)
    datatype = body[at : at + type_size]
    at += padded(type_size) + padded(space_size)
    if len(datatype) < 8:
        return None
    kind, size = datatype[0] & 0x0F, file.number(datatype, 4, 4)
    if kind == _STRING:
        return name, _text(body[at : at + min(size, MAX_VALUE)])
    if kind == _VARIABLE and datatype[1] & 0x0F == 1:  # a variable-length string
        length = file.number(body, at, 4)
        collection = file.number(body, at + 4, file.offsets)
        index = file.number(body, at + 4 + file.offsets, 4)
        return name, _text(_global_heap_object(file, collection, index, length))
    return None


def _global_heap_object(file: _File, address: int, index: int, length: int) -> bytes:
    """Object ``index`` of the global heap collection at ``address``: its first ``length`` bytes."""
    head = file.read(address, 8 + file.lengths)
    if not head.startswith(b"GCOL"):
        raise Hdf5Problem("a text attribute pointing at something other than a global heap")
    size = min(file.number(head, 8, file.lengths), file.size - address)
    at = address + 8 + file.lengths
    for _ in range(MAX_MESSAGES):
        if at + 8 + file.lengths > address + size:
            break
        entry = file.read(at, 8 + file.lengths)
        number, object_size = file.number(entry, 0, 2), file.number(entry, 8, file.lengths)
        if number == 0:
            break  # the collection's free space
        if number == index:
            return file.read(at + 8 + file.lengths, min(length, object_size, MAX_VALUE))
        at += 8 + file.lengths + (object_size + 7) // 8 * 8
    raise Hdf5Problem(f"global heap object {index} not found")


def _text(data: bytes) -> str:
    return data.split(b"\x00", 1)[0].decode("utf-8", "replace")
