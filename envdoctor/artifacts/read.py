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
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from envdoctor.artifacts import ARTIFACT_SUFFIXES, is_artifact_name
from envdoctor.artifacts.pickles import Call, Global, PickleProblem, Stream, read_pickle, skip
from envdoctor.errors import InputError

MAX_FILES = 10_000  # in a folder
# torch.save's format before 1.6: five pickles in a row, the first this number (its magic).
_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
MAX_DECOMPRESSED = 1 << 31  # 2 GiB read out of a compressed artifact, at most
MAX_ZIP_ENTRIES = 100_000
MAX_SAFETENSORS_HEADER = 100_000_000  # what safetensors itself accepts
MAX_WALK = 2_000_000  # values visited looking for recorded versions
_ARRAY_WRAPPER = Global("joblib.numpy_pickle", "NumpyArrayWrapper")
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
    format: str  # pickle, joblib, torch, safetensors, keras, skops, onnx
    # What loading it imports and calls, "module.name", in the order first named.
    globals: tuple[str, ...] = ()
    # Versions the writing libraries recorded in their objects: (key, value), e.g.
    # ("_sklearn_version", "1.3.2").
    versions: tuple[tuple[str, str], ...] = ()
    # Whether it is a pickle (any code it names runs on load) rather than data.
    pickled: bool = False
    # What was not read, and why.
    notes: tuple[str, ...] = ()


def read_artifacts(path: str) -> list[Artifact]:
    """The artifact at ``path``, or each one in the folder ``path`` (by name, in name order)."""
    from envdoctor.kb.facts import artifact_version_keys

    keys = frozenset(artifact_version_keys())
    root = Path(path)
    if not root.is_dir():
        return [read_artifact(path, keys)]
    found = sorted(str(file) for file in root.rglob("*") if file.is_file() and is_artifact_name(file.name))
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
                return Artifact(path, "onnx", notes=("an ONNX model: its opsets are not judged yet",))
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
        "torch" if kind == "torch" else "joblib" if _ARRAY_WRAPPER in found or kind.startswith("joblib") else "pickle"
    )
    versions = tuple(dict.fromkeys(item for result in results for item in _versions(result, version_keys)))
    return Artifact(path, form, names, versions, pickled=True)


def _after_joblib_build(built: Call, stream: Stream) -> tuple[Global, ...]:
    """Step over the array joblib writes right after a NumpyArrayWrapper's BUILD (joblib's
    ``NumpyArrayWrapper.read_array``): a padding length byte and the padding where the wrapper
    records an alignment, then the array's bytes, or, for an array of objects, a pickle."""
    if built.callee != _ARRAY_WRAPPER or not isinstance(built.state, dict):
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
                return Artifact(path, "keras", notes=("a Keras file: its layers are not judged yet",))
            if "schema.json" in names:
                return Artifact(path, "skops", notes=("a skops file: its types are not judged yet",))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as exc:
        raise InputError(path, f"not a readable zip: {exc}") from None
    raise InputError(path, "a zip that is not a model format envdoctor reads (torch.save, Keras, skops)")


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
