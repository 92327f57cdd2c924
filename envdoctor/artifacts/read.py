"""A model artifact read as data: its format, what loading it imports and calls, and the versions
the libraries that wrote it recorded in it.

Formats, told by their first bytes: a pickle (``pickle.dump``, and ``joblib.dump``, whose arrays
follow their wrapper in the stream), joblib's compressed pickles (zlib, gzip, bz2, xz, lzma), a
zip (``torch.save``'s ``data.pkl``; Keras' and skops' files are named, not read yet), and
safetensors (a JSON header, no code). Every read is bounded: the bytes decompressed, the entries
of a zip, the size of a header; past a bound, or on malformed bytes, the artifact is a problem
naming the file, never a traceback.
"""

from __future__ import annotations

import bz2
import json
import lzma
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from envdoctor.artifacts import ARTIFACT_SUFFIXES, SNIFFED_SUFFIXES, is_artifact_name, sniff_model, sniffs_as_model
from envdoctor.artifacts.pickles import Call, Global, PickleProblem, Stream, read_pickle, skip
from envdoctor.errors import InputError
from envdoctor.safety import snippet

MAX_FILES = 10_000  # in a folder
# torch.save's format before 1.6: five pickles in a row, the first this number (its magic).
_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
MAX_DECOMPRESSED = 1 << 31  # 2 GiB read out of a compressed artifact, at most
MAX_ZIP_ENTRIES = 100_000
MAX_SAFETENSORS_HEADER = 100_000_000  # what safetensors itself accepts
MAX_WALK = 2_000_000  # values visited looking for recorded versions
MAX_JSON_MEMBER = 64 << 20  # a JSON file in a Keras or skops zip
# joblib's array wrapper, and the copy scikit-learn vendored before 0.23 (sklearn.externals.joblib).
_ARRAY_WRAPPERS = frozenset(
    {
        Global("joblib.numpy_pickle", "NumpyArrayWrapper"),
        Global("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
    }
)
# joblib's compressed files, by their first bytes (joblib/compressor.py); lz4 is not in the
# standard library, so such a file is named, not read.
_COMPRESSED: dict[bytes, tuple[str, Callable[[], Any] | None]] = {
    b"\x78": ("zlib", zlib.decompressobj),
    b"\x1f\x8b": ("gzip", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)),
    b"BZ": ("bz2", bz2.BZ2Decompressor),
    b"\xfd7zXZ": ("xz", lzma.LZMADecompressor),
    b"]\x00\x00": ("lzma", lzma.LZMADecompressor),
    b'\x04"M\x18': ("lz4", None),
}


class Artifact(NamedTuple):
    path: str
    format: str  # pickle, joblib, torch, safetensors, keras, keras-h5, hdf5, skops, onnx, xgboost, lightgbm
    # What loading it imports and calls, "module.name", in the order first named.
    globals: tuple[str, ...] = ()
    # Versions the writing libraries recorded in their objects or headers: (key, value), e.g.
    # ("_sklearn_version", "1.3.2"), ("keras_version", "3.15.1"); ("format", mark) for a format's
    # own version mark (LightGBM's "v4", XGBoost's legacy "binf").
    versions: tuple[tuple[str, str], ...] = ()
    # Whether it is a pickle (any code it names runs on load) rather than data.
    pickled: bool = False
    # What was not read, and why.
    notes: tuple[str, ...] = ()
    # An ONNX model's IR version, operator sets ((domain, version); "" is ai.onnx) and producer.
    ir_version: int | None = None
    opsets: tuple[tuple[str, int], ...] = ()
    producer: str = ""


def read_artifacts(path: str) -> list[Artifact]:
    """The artifact at ``path``, or each one in the folder ``path`` (by name, in name order)."""
    from envdoctor.kb.facts import artifact_version_keys

    keys = frozenset(artifact_version_keys())
    root = Path(path)
    if not root.is_dir():
        return [read_artifact(path, keys)]
    found = sorted(
        str(file)
        for file in root.rglob("*")
        if file.is_file()
        and (is_artifact_name(file.name) or (file.name.endswith(SNIFFED_SUFFIXES) and sniffs_as_model(str(file))))
    )
    if len(found) > MAX_FILES:
        raise InputError(path, f"more than {MAX_FILES:,} model files in the folder: name fewer")
    if not found:
        raise InputError(path, "a folder with no model file in it (" + ", ".join(ARTIFACT_SUFFIXES) + ")")
    return [read_artifact(file, keys) for file in found]


def read_artifact(path: str, version_keys: frozenset[str]) -> Artifact:
    """The artifact at ``path``; ``version_keys``: the state keys in which libraries record the
    version that wrote an object (the knowledge base's). InputError when it cannot be read."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
            stream.seek(0)
            if head.startswith(b"PK\x03\x04"):
                return _zip(path, version_keys)
            if Path(path).suffix == ".safetensors":
                return _safetensors(path, stream)
            if Path(path).suffix == ".onnx":
                return _onnx(path, stream)
            if head.startswith(b"\x89HDF\r\n\x1a\n"):
                return _hdf5(path, stream)
            sniffed = sniff_model(stream.read(64))
            stream.seek(0)
            if sniffed == "xgboost":
                return _xgboost(path, stream)
            if sniffed == "lightgbm":
                return _lightgbm(path, stream)
            for magic, (name, make) in _COMPRESSED.items():
                if head.startswith(magic) and not _looks_like_pickle(head):
                    if make is None:
                        return Artifact(path, "joblib", notes=(f"{name}-compressed: not read (no {name} here)",))
                    return _pickle(path, _Decompressing(stream, make, name), version_keys, f"joblib ({name})")
            return _pickle(path, stream, version_keys, "pickle")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def _looks_like_pickle(head: bytes) -> bool:
    return head.startswith(b"\x80") and len(head) > 1 and head[1] <= 5


def _pickle(path: str, stream: Stream, version_keys: frozenset[str], kind: str) -> Artifact:
    try:
        read = read_pickle(stream, _after_joblib_build)
    except PickleProblem as exc:
        raise InputError(path, f"not a readable {kind}: {exc}") from None
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
        raise InputError(path, f"not a readable {kind}: {exc}") from None
    results, found = [read.result], list(read.globals)
    if read.result == _LEGACY_TORCH_MAGIC:
        # The legacy torch.save format: four more pickles (protocol, system info, the object, the
        # storage keys), then the storages' bytes, which are not read.
        for _ in range(4):
            try:
                more = read_pickle(stream, _after_joblib_build)
            except PickleProblem as exc:
                raise InputError(path, f"not a readable torch.save file (legacy format): {exc}") from None
            results.append(more.result)
            found += [name for name in more.globals if name not in found]
        kind = "torch"
    names = tuple(str(name) for name in found)
    form = (
        "torch"
        if kind == "torch"
        else "joblib"
        if _ARRAY_WRAPPERS & set(found) or kind.startswith("joblib")
        else "pickle"
    )
    versions = tuple(dict.fromkeys(item for result in results for item in _versions(result, version_keys)))
    return Artifact(path, form, names, versions, pickled=True)


def _after_joblib_build(built: Call, stream: Stream) -> tuple[Global, ...]:
    """Step over the array joblib writes right after a NumpyArrayWrapper's BUILD (joblib's
    ``NumpyArrayWrapper.read_array``): a padding length byte and the padding where the wrapper
    records an alignment, then the array's bytes, or, for an array of objects, a pickle."""
    if built.callee not in _ARRAY_WRAPPERS or not isinstance(built.state, dict):
        return ()
    state = built.state
    itemsize, objects = _itemsize(state.get("dtype"))
    if objects:
        return read_pickle(stream, _after_joblib_build).globals
    shape = state.get("shape")
    shape = (shape,) if isinstance(shape, int) else shape
    if itemsize is None or not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise PickleProblem("a joblib array whose size cannot be read")
    if state.get("numpy_array_alignment_bytes") is not None:
        padding = stream.read(1)
        if not padding:
            raise PickleProblem("a joblib array: truncated")
        skip(stream, padding[0], "a joblib array's padding")
    count = 1
    for size in shape:
        count *= size
    skip(stream, count * itemsize, "a joblib array")
    return ()


def _itemsize(dtype: object) -> tuple[int | None, bool]:
    """The bytes of one item of a pickled numpy dtype (``numpy.dtype('f8', False, True)`` with its
    state), and whether it holds objects."""
    if not isinstance(dtype, Call) or not dtype.args or not isinstance(dtype.args[0], str):
        return None, False
    code = dtype.args[0].lstrip("<>|=")
    if code.startswith("O"):
        return None, True
    state = dtype.state
    if isinstance(state, tuple) and len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        return state[5], False  # a flexible or structured dtype records its item size
    kind, digits = code[:1], code[1:]
    if not digits.isdigit():
        return None, False
    return (int(digits) * (4 if kind == "U" else 1), False) if kind in "biufcmMSVU" else (None, False)


def _versions(result: object, keys: frozenset[str]) -> Iterator[tuple[str, str]]:
    """Each (key, version) the rebuilt objects' state holds under one of ``keys``, once."""
    seen: set[tuple[str, str]] = set()
    pending = [result]
    visited = 0
    while pending and visited < MAX_WALK:
        value = pending.pop()
        visited += 1
        if isinstance(value, dict):
            for key, item in value.items():
                if key in keys and isinstance(item, str) and (key, item) not in seen:
                    seen.add((key, item))
                    yield key, item
                pending.append(item)
        elif isinstance(value, (list, tuple)) and not isinstance(value, Global):
            pending.extend(value)
        elif isinstance(value, Call):
            pending.extend((value.args, value.state))


def _zip(path: str, version_keys: frozenset[str]) -> Artifact:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if len(names) > MAX_ZIP_ENTRIES:
                raise InputError(path, f"a zip of more than {MAX_ZIP_ENTRIES:,} entries: not read")
            pickles = [name for name in names if name == "data.pkl" or name.endswith("/data.pkl")]
            if pickles:
                with archive.open(pickles[0]) as member:
                    read = _pickle(path, _Capped(member, f"{pickles[0]} in the zip"), version_keys, "torch.save file")
                return read._replace(format="torch")
            if "metadata.json" in names and "config.json" in names:
                metadata = _json_member(archive, "metadata.json", path)
                written = metadata.get("keras_version") if isinstance(metadata, dict) else None
                versions = (("keras_version", written),) if isinstance(written, str) else ()
                return Artifact(path, "keras", versions=versions)
            if "schema.json" in names:
                return _skops(path, _json_member(archive, "schema.json", path), version_keys)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as exc:
        raise InputError(path, f"not a readable zip: {exc}") from None
    raise InputError(path, "a zip that is not a model format envdoctor reads (torch.save, Keras, skops)")


def _json_member(archive: zipfile.ZipFile, name: str, path: str) -> object:
    """A JSON member of a zip, read within its bound."""
    if archive.getinfo(name).file_size > MAX_JSON_MEMBER:
        raise InputError(path, f"{name} in the zip is larger than {MAX_JSON_MEMBER >> 20} MiB: not read")
    with archive.open(name) as member:
        data = member.read(MAX_JSON_MEMBER + 1)
    if len(data) > MAX_JSON_MEMBER:
        raise InputError(path, f"{name} in the zip is larger than {MAX_JSON_MEMBER >> 20} MiB: not read")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(path, f"{name} in the zip is not JSON ({snippet(str(exc), 120)})") from None


def _skops(path: str, schema: object, version_keys: frozenset[str]) -> Artifact:
    """A skops file's schema: the types loading it builds ("module.class", which skops.io.load
    checks against its trusted list), the versions recorded in their state, and skops' own."""
    if not isinstance(schema, dict):
        raise InputError(path, "a skops file whose schema.json is not a JSON object")
    types: dict[str, None] = {}
    versions: dict[tuple[str, str], None] = {}
    written = schema.get("_skops_version")
    if isinstance(written, str):
        versions[("_skops_version", written)] = None
    pending: list[object] = [schema]
    visited = 0
    while pending and visited < MAX_WALK:
        value = pending.pop()
        visited += 1
        if isinstance(value, dict):
            module, name = value.get("__module__"), value.get("__class__")
            if isinstance(module, str) and isinstance(name, str):
                types.setdefault(f"{module}.{name}")
            for key, item in value.items():
                if key in version_keys and (found := _skops_text(item)) is not None:
                    versions.setdefault((key, found))
            pending.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            pending.extend(reversed(value))
    return Artifact(path, "skops", globals=tuple(types), versions=tuple(versions))


def _skops_text(node: object) -> str | None:
    """The text a skops node holds: a plain string, or a JSON node's content (``"\"1.5.2\""``)."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict) or not isinstance(node.get("content"), str):
        return None
    content: str = node["content"]
    if node.get("is_json"):
        try:
            decoded = json.loads(content)
        except ValueError:
            return None
        return decoded if isinstance(decoded, str) else None
    return content


# XGBoost writes the release that saved the model as the last key of its top-level object, after
# "learner": in JSON "version": [3, 2, 0]; in UBJSON the key, then an array of integers.
_XGBOOST_JSON_VERSION = re.compile(rb'"version"\s*:\s*\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]\s*\}\s*$')
_UBJSON_INTEGERS = {b"i": (1, True), b"U": (1, False), b"I": (2, True), b"l": (4, True), b"L": (8, True)}
_TAIL = 4096


def _xgboost(path: str, stream: IO[bytes]) -> Artifact:
    """An XGBoost model saved as JSON or UBJSON: the release that saved it, read from its end. In
    the legacy binary format ("binf", then LearnerModelParamLegacy: base_score, num_feature,
    num_class, two flags, then the major and minor release as little-endian uint32s)."""
    head = stream.read(0x20)
    if head.startswith(b"binf"):
        if len(head) < 0x20:
            raise InputError(path, "an XGBoost binary model cut short")
        major, minor = int.from_bytes(head[0x18:0x1C], "little"), int.from_bytes(head[0x1C:0x20], "little")
        return Artifact(path, "xgboost", versions=(("version", f"{major}.{minor}"), ("format", "binf")))
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - _TAIL))
    tail = stream.read(_TAIL)
    found = _XGBOOST_JSON_VERSION.search(tail) or None
    version = ".".join(part.decode() for part in found.groups()) if found else _ubjson_version(tail)
    if version is None:
        return Artifact(path, "xgboost", notes=("an XGBoost model whose release is not recorded at its end",))
    return Artifact(path, "xgboost", versions=(("version", version),))


def _ubjson_version(tail: bytes) -> str | None:
    """The "version" array at the end of an XGBoost UBJSON model: the key (its length, then its
    name), "[", an optional "$" type, "#" and a count, then that many integers, then "}"."""
    at = tail.rfind(b"version[")
    if at < 0:
        return None
    data, offset = tail, at + len(b"version[")
    typed = None
    if data[offset : offset + 1] == b"$":
        typed, offset = data[offset + 1 : offset + 2], offset + 2
    if data[offset : offset + 1] != b"#":
        return None
    count, offset = _ubjson_integer(data, offset + 1, None)
    if count is None or not 1 <= count <= 4:
        return None
    parts = []
    for _ in range(count):
        part, offset = _ubjson_integer(data, offset, typed)
        if part is None or part < 0:
            return None
        parts.append(str(part))
    return ".".join(parts) if data[offset : offset + 1] == b"}" else None


def _ubjson_integer(data: bytes, offset: int, marker: bytes | None) -> tuple[int | None, int]:
    if marker is None:
        marker, offset = data[offset : offset + 1], offset + 1
    size_signed = _UBJSON_INTEGERS.get(marker)
    if size_signed is None or offset + size_signed[0] > len(data):
        return None, offset
    size, signed = size_signed
    return int.from_bytes(data[offset : offset + size], "big", signed=signed), offset + size


def _lightgbm(path: str, stream: IO[bytes]) -> Artifact:
    """A LightGBM text model: the format version on its second line ("version=v4")."""
    stream.readline(64)
    line = stream.readline(64).decode("ascii", "replace").strip()
    return Artifact(path, "lightgbm", versions=(("format", line.removeprefix("version=")),))


def _hdf5(path: str, stream: IO[bytes]) -> Artifact:
    """An HDF5 file: a Keras model saved in the legacy format records keras_version (and its
    backend) as attributes of the root group; another HDF5 file is data, with nothing to judge."""
    from envdoctor.artifacts.hdf5 import Hdf5Problem, root_text_attributes

    try:
        found = root_text_attributes(stream, frozenset({"keras_version", "backend"}))
    except Hdf5Problem as exc:
        raise InputError(path, f"not a readable HDF5 file: {exc}") from None
    if "keras_version" not in found:
        return Artifact(path, "hdf5")
    return Artifact(path, "keras-h5", versions=(("keras_version", found["keras_version"]),))


def _onnx(path: str, stream: IO[bytes]) -> Artifact:
    from envdoctor.artifacts.onnx import OnnxProblem, read_onnx

    try:
        header = read_onnx(stream)
    except OnnxProblem as exc:
        raise InputError(path, f"not a readable ONNX model: {exc}") from None
    return Artifact(path, "onnx", ir_version=header.ir_version, opsets=header.opsets, producer=header.producer)


def _safetensors(path: str, stream: IO[bytes]) -> Artifact:
    head = stream.read(8)
    size = int.from_bytes(head, "little") if len(head) == 8 else -1
    if not 0 < size <= MAX_SAFETENSORS_HEADER:
        raise InputError(path, "not a safetensors file: its header size is missing or out of range")
    try:
        header = json.loads(stream.read(size))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a safetensors file: its header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise InputError(path, "not a safetensors file: its header is not a JSON object")
    return Artifact(path, "safetensors")


class _Capped:
    """A member of a zip read through a bound: a member that inflates past it is refused."""

    def __init__(self, member: IO[bytes], what: str) -> None:
        self.member = member
        self.what = what
        self.read_so_far = 0

    def read(self, size: int = -1) -> bytes:
        data = self.member.read(size if size >= 0 else MAX_DECOMPRESSED)
        return self._count(data)

    def readline(self, size: int = -1) -> bytes:
        return self._count(self.member.readline(size))

    def _count(self, data: bytes) -> bytes:
        self.read_so_far += len(data)
        if self.read_so_far > MAX_DECOMPRESSED:
            raise PickleProblem(f"{self.what}: more than {MAX_DECOMPRESSED >> 30} GiB once decompressed")
        return data


class _Decompressing:
    """A compressed file read as the bytes it holds, a bounded amount at a time; no seeking."""

    def __init__(self, stream: IO[bytes], make: Callable[[], Any], name: str) -> None:
        self.stream = stream
        self.decompressor = make()
        self.name = name
        self.buffer = b""
        self.produced = 0

    def _fill(self, wanted: int) -> None:
        while len(self.buffer) < wanted:
            chunk = self._next()
            if chunk is None:
                return
            self.produced += len(chunk)
            if self.produced > MAX_DECOMPRESSED:
                raise PickleProblem(f"more than {MAX_DECOMPRESSED >> 30} GiB once decompressed ({self.name})")
            self.buffer += chunk

    def _next(self) -> bytes | None:
        """The next bytes out of the decompressor, at most a MiB; None at the end."""
        decompressor = self.decompressor
        if decompressor.eof:
            return None
        tail = getattr(decompressor, "unconsumed_tail", None)  # zlib keeps its input there; bz2 and lzma inside
        if tail or (tail is None and not decompressor.needs_input):
            chunk: bytes = decompressor.decompress(tail or b"", 1 << 20)
            return chunk
        raw = self.stream.read(1 << 16)
        if not raw:
            return None
        chunk = decompressor.decompress(raw, 1 << 20)
        return chunk

    def read(self, size: int = -1) -> bytes:
        size = MAX_DECOMPRESSED if size < 0 else size
        self._fill(size)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readline(self, size: int = -1) -> bytes:
        limit = MAX_DECOMPRESSED if size < 0 else size
        while b"\n" not in self.buffer and len(self.buffer) < limit:
            before = len(self.buffer)
            self._fill(len(self.buffer) + 1)
            if len(self.buffer) == before:
                break
        end = self.buffer.find(b"\n")
        cut = min(limit, end + 1 if end >= 0 else len(self.buffer))
        data, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return data
