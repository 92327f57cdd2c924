"""An ONNX model's header read from its protobuf wire format, without onnx or protobuf: the IR
version, the producer, and the operator sets it imports. The graph, which holds the weights, is
stepped over by seeking; nothing but those fields is read into memory.

Field numbers from onnx/onnx.proto (ModelProto and OperatorSetIdProto).
"""

from __future__ import annotations

import os
from typing import IO, NamedTuple

# ModelProto
_IR_VERSION, _PRODUCER_NAME, _PRODUCER_VERSION, _OPSET_IMPORT = 1, 2, 3, 8
# OperatorSetIdProto
_DOMAIN, _VERSION = 1, 2
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
MAX_FIELDS = 100_000  # top-level fields of the model read, at most
MAX_KEPT = 1 << 16  # a producer name or an operator set read, at most


class OnnxProblem(Exception):
    """Not an ONNX model, or a malformed one."""


class OnnxHeader(NamedTuple):
    ir_version: int | None
    producer: str  # "pytorch 2.5.1", or "" where it names none
    # (domain, version): "" is the default domain, ai.onnx.
    opsets: tuple[tuple[str, int], ...]


def read_onnx(stream: IO[bytes]) -> OnnxHeader:
    """The header of the model in ``stream`` (a seekable binary file)."""
    end = os.fstat(stream.fileno()).st_size
    ir_version: int | None = None
    names = {_PRODUCER_NAME: "", _PRODUCER_VERSION: ""}
    opsets: list[tuple[str, int]] = []
    for _ in range(MAX_FIELDS):
        if stream.tell() >= end:
            break
        field, wire = _key(stream)
        if wire == _VARINT:
            value = _varint(stream)
            if field == _IR_VERSION:
                ir_version = value
        elif wire == _LENGTH:
            size = _varint(stream)
            if stream.tell() + size > end:
                raise OnnxProblem(f"field {field} runs past the end of the file (truncated)")
            if field in names or field == _OPSET_IMPORT:
                if size > MAX_KEPT:
                    raise OnnxProblem(f"field {field} is {size:,} bytes long: not a model's header")
                data = stream.read(size)
                if field == _OPSET_IMPORT:
                    opsets.append(_opset(data))
                else:
                    names[field] = data.decode("utf-8", "replace")
            else:
                stream.seek(size, os.SEEK_CUR)
        elif wire in (_FIXED64, _FIXED32):
            stream.seek(8 if wire == _FIXED64 else 4, os.SEEK_CUR)
        else:
            raise OnnxProblem(f"wire type {wire} at byte {stream.tell()}: not an ONNX model")
    else:
        raise OnnxProblem(f"more than {MAX_FIELDS:,} top-level fields: not an ONNX model")
    if ir_version is None or not opsets:
        raise OnnxProblem("no IR version or no operator set: not an ONNX model")
    producer = " ".join(part for part in (names[_PRODUCER_NAME], names[_PRODUCER_VERSION]) if part)
    return OnnxHeader(ir_version, producer, tuple(opsets))


def _opset(data: bytes) -> tuple[str, int]:
    """One OperatorSetIdProto: its domain ("" when absent) and version."""
    stream = _Bytes(data)
    domain, version = "", None
    while stream.offset < len(data):
        field, wire = _key(stream)
        if wire == _VARINT:
            value = _varint(stream)
            if field == _VERSION:
                version = value
        elif wire == _LENGTH:
            raw = stream.read(_varint(stream))
            if field == _DOMAIN:
                domain = raw.decode("utf-8", "replace")
        else:
            raise OnnxProblem(f"an operator set with wire type {wire}: malformed")
    if version is None:
        raise OnnxProblem(f"the operator set {domain or 'ai.onnx'} has no version")
    return domain, version


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def read(self, size: int) -> bytes:
        chunk = self.data[self.offset : self.offset + size]
        if len(chunk) < size:
            raise OnnxProblem("an operator set cut short")
        self.offset += size
        return chunk


def _key(stream: IO[bytes] | _Bytes) -> tuple[int, int]:
    key = _varint(stream)
    field, wire = key >> 3, key & 7
    if field == 0:
        raise OnnxProblem("a field numbered 0: not an ONNX model")
    return field, wire


def _varint(stream: IO[bytes] | _Bytes) -> int:
    value = 0
    for shift in range(0, 70, 7):
        byte = stream.read(1)
        if not byte:
            raise OnnxProblem("truncated")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
    raise OnnxProblem("a number longer than ten bytes: not an ONNX model")
