"""A pickle read opcode by opcode into inert values, never executed.

What ``pickle.load`` would build is rebuilt as plain data: strings, numbers, tuples, lists and
dicts as themselves, and every global the pickle names as a ``Global`` that is recorded, never
imported; calling one (REDUCE, NEWOBJ, INST, OBJ) gives a ``Call`` that holds its arguments, and
BUILD attaches the state. That is enough to list what loading it would import and call, to read
the versions libraries write into their objects' state (scikit-learn's ``_sklearn_version``), and
to step over the array data joblib writes between opcodes.

Every count is bounded: opcodes, the values kept, the length of a string kept (longer ones are
skipped unread), the nesting of MARKs. Malformed input is a ``PickleProblem`` naming the offset.
"""

from __future__ import annotations

import io
import pickletools
from collections.abc import Callable, Iterator
from typing import IO, Any, NamedTuple, Protocol, cast

MAX_OPCODES = 20_000_000
MAX_VALUES = 2_000_000  # values on the stack and in the memo together
MAX_KEPT_STRING = 1 << 16  # longer strings and bytes are skipped, not read into memory
MAX_MARKS = 10_000
MAX_LINE = 1 << 16  # an argument ended by a newline (protocol 0)
_BY_CODE = {op.code.encode("latin-1"): op for op in pickletools.opcodes}


class Stream(Protocol):
    """What the reader needs of a file: reads. Seeking, where there is one, skips large values."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


class PickleProblem(Exception):
    """The pickle cannot be read as one: truncated, an unknown opcode, or past a limit."""


class Global(NamedTuple):
    module: str
    name: str

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


class Call:
    """A global called with ``args`` (REDUCE, NEWOBJ), with the state BUILD gave it, if any. BUILD
    sets the state in place, as pickle does, so that the memo's reference to it sees it too."""

    __slots__ = ("args", "callee", "state")

    def __init__(self, callee: object, args: tuple[Any, ...], state: object = None) -> None:
        self.callee = callee
        self.args = args
        self.state = state

    def __repr__(self) -> str:
        return f"Call({self.callee!r}, {self.args!r}, state={self.state!r})"


class Skipped(NamedTuple):
    """A string or bytes value too long to keep: its length only."""

    length: int


class Unknown(NamedTuple):
    """A value this reader does not rebuild (a persistent id, an extension code)."""

    what: str


class _Mark:
    pass


_MARK = _Mark()

# A hook for data written outside the opcode stream (joblib's arrays): given the object BUILD
# just finished, it reads past that data in the stream (or raises PickleProblem), and returns
# the globals of any pickle it read there (an object array is a pickle of its own).
AfterBuild = Callable[[Call, Stream], tuple[Global, ...]]


class Read(NamedTuple):
    """What a pickle would build and what it would import, in the order first named."""

    result: object
    globals: tuple[Global, ...]
    calls: tuple[Call, ...]
    opcodes: int


def read_pickle(stream: Stream, after_build: AfterBuild | None = None) -> Read:
    """Read one pickle from ``stream`` up to its STOP."""
    machine = _Machine(stream, after_build)
    return machine.run()


class _Machine:
    def __init__(self, stream: Stream, after_build: AfterBuild | None) -> None:
        self.stream = stream
        self.after_build = after_build
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.globals: dict[Global, None] = {}
        self.calls: list[Call] = []

    def run(self) -> Read:
        count = 0
        while True:
            offset = self._tell()
            code = self.stream.read(1)
            if not code:
                raise PickleProblem(f"truncated at byte {offset}: no STOP")
            op = _BY_CODE.get(code)
            if op is None:
                raise PickleProblem(f"unknown opcode {code!r} at byte {offset}")
            count += 1
            if count > MAX_OPCODES:
                raise PickleProblem(f"more than {MAX_OPCODES:,} opcodes")
            argument = self._argument(op, offset)
            if op.name == "STOP":
                result = self.stack.pop() if self.stack else None
                return Read(result, tuple(self.globals), tuple(self.calls), count)
            self._do(op.name, argument, offset)
            if len(self.stack) + len(self.memo) > MAX_VALUES:
                raise PickleProblem(f"more than {MAX_VALUES:,} values")

    def _tell(self) -> int:
        tell = getattr(self.stream, "tell", None)
        try:
            return int(tell()) if tell is not None else -1
        except OSError:
            return -1

    def _argument(self, op: pickletools.OpcodeInfo, offset: int) -> Any:
        arg = op.arg
        if arg is None:
            return None
        if arg.n >= 0 and arg.name not in _LENGTH_PREFIXED:
            try:
                return arg.reader(cast("IO[bytes]", self.stream))
            except ValueError as exc:
                said = "truncated" if "not enough data" in str(exc) else str(exc)
                raise PickleProblem(f"{op.name} at byte {offset}: {said}") from None
        if arg.name in _LENGTH_PREFIXED:
            size_bytes, signed, text = _LENGTH_PREFIXED[arg.name]
            raw = self._exactly(size_bytes, op.name, offset)
            length = int.from_bytes(raw, "little", signed=signed)
            if length < 0:
                raise PickleProblem(f"{op.name} at byte {offset}: negative length")
            if length > MAX_KEPT_STRING:
                self._skip(length, op.name, offset)
                return Skipped(length)
            data = self._exactly(length, op.name, offset)
            return data.decode("utf-8", "replace") if text == "utf-8" else data.decode("latin-1") if text else data
        # Up to a newline (two for GLOBAL and INST): read with a bound, then parsed as pickletools
        # does; a longer text (protocol 0 writes bytes as one) is stepped over, unread.
        lines = []
        for _ in range(2 if arg.name == "stringnl_noescape_pair" else 1):
            line = self.stream.readline(MAX_LINE)
            if not line.endswith(b"\n"):
                length = len(line) + self._skip_line(op.name, offset)
                if arg.name in ("stringnl", "unicodestringnl"):
                    return Skipped(length)
                raise PickleProblem(f"{op.name} at byte {offset}: no newline within {MAX_LINE:,} bytes")
            lines.append(line)
        try:
            return arg.reader(io.BytesIO(b"".join(lines)))
        except ValueError as exc:
            raise PickleProblem(f"{op.name} at byte {offset}: {exc}") from None

    def _skip_line(self, name: str, offset: int) -> int:
        """Read past the rest of a long line, keeping none of it; its length."""
        length = 0
        while True:
            chunk = self.stream.readline(1 << 20)
            if not chunk:
                raise PickleProblem(f"{name} at byte {offset}: truncated")
            length += len(chunk)
            if chunk.endswith(b"\n"):
                return length

    def _exactly(self, size: int, name: str, offset: int) -> bytes:
        data = self.stream.read(size)
        if len(data) != size:
            raise PickleProblem(f"{name} at byte {offset}: truncated")
        return data

    def _skip(self, size: int, name: str, offset: int) -> None:
        skip(self.stream, size, f"{name} at byte {offset}")

    def _push(self, value: Any) -> None:
        self.stack.append(value)

    def _pop(self, offset: int) -> Any:
        if not self.stack:
            raise PickleProblem(f"stack underflow at byte {offset}")
        return self.stack.pop()

    def _pop_mark(self, offset: int) -> list[Any]:
        if not self.marks:
            raise PickleProblem(f"no MARK to pop at byte {offset}")
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def _global(self, module: object, name: object) -> Global:
        found = Global(str(module) if isinstance(module, str) else "?", str(name) if isinstance(name, str) else "?")
        self.globals.setdefault(found, None)
        return found

    def _call(self, callee: object, args: object) -> Call:
        call = Call(callee, tuple(args) if isinstance(args, (tuple, list)) else (args,))
        self.calls.append(call)
        return call

    def _do(self, name: str, argument: Any, offset: int) -> None:  # noqa: PLR0915 - one branch an opcode
        if name in _PUSHES:
            self._push(_PUSHES[name](argument))
        elif name in ("GLOBAL", "INST"):
            module, _, attribute = str(argument).partition(" ")
            found = self._global(module, attribute)
            if name == "INST":
                self._push(self._call(found, self._pop_mark(offset)))
            else:
                self._push(found)
        elif name == "STACK_GLOBAL":
            attribute, module = self._pop(offset), self._pop(offset)
            self._push(self._global(module, attribute))
        elif name == "MARK":
            if len(self.marks) >= MAX_MARKS:
                raise PickleProblem(f"more than {MAX_MARKS:,} nested MARKs")
            self.marks.append(self.stack)
            self.stack = []
        elif name in ("TUPLE", "LIST"):
            items = self._pop_mark(offset)
            self._push(tuple(items) if name == "TUPLE" else list(items))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            size = int(name[-1])
            items = [self._pop(offset) for _ in range(size)][::-1]
            self._push(tuple(items))
        elif name == "DICT":
            items = self._pop_mark(offset)
            self._push(dict(_pairs(items)))
        elif name == "FROZENSET":
            self._push(list(self._pop_mark(offset)))
        elif name in ("APPEND", "APPENDS", "ADDITEMS"):
            items = [self._pop(offset)] if name == "APPEND" else self._pop_mark(offset)
            target = self.stack[-1] if self.stack else None
            if isinstance(target, list):
                target.extend(items)
        elif name in ("SETITEM", "SETITEMS"):
            items = self._pop_mark(offset) if name == "SETITEMS" else [self._pop(offset), self._pop(offset)][::-1]
            target = self.stack[-1] if self.stack else None
            if isinstance(target, dict):
                target.update(_pairs(items))
        elif name in ("REDUCE", "NEWOBJ"):
            args = self._pop(offset)
            self._push(self._call(self._pop(offset), args))
        elif name == "NEWOBJ_EX":
            _kwargs, args = self._pop(offset), self._pop(offset)
            self._push(self._call(self._pop(offset), args))
        elif name == "OBJ":
            items = self._pop_mark(offset)
            self._push(self._call(items[0] if items else None, items[1:]))
        elif name == "BUILD":
            state = self._pop(offset)
            target = self.stack[-1] if self.stack else None
            if isinstance(target, Call):
                target.state = state
                if self.after_build is not None:
                    for found in self.after_build(target, self.stream):
                        self.globals.setdefault(found, None)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo[int(argument)] = self.stack[-1] if self.stack else None
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self.stack[-1] if self.stack else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            self._push(self.memo.get(int(argument)))
        elif name == "POP":
            self._pop(offset)
        elif name == "POP_MARK":
            self._pop_mark(offset)
        elif name == "DUP":
            self._push(self.stack[-1] if self.stack else None)
        elif name in ("PERSID", "BINPERSID"):
            if name == "BINPERSID":
                self._pop(offset)
            self._push(Unknown("a persistent id"))
        elif name in ("EXT1", "EXT2", "EXT4"):
            self._push(Unknown("an extension code"))
        elif name in ("PROTO", "FRAME", "NEXT_BUFFER", "READONLY_BUFFER"):
            if name == "NEXT_BUFFER":
                self._push(Unknown("an out-of-band buffer"))
        else:
            raise PickleProblem(f"opcode {name} at byte {offset} is not read")


def skip(stream: Stream, size: int, what: str) -> None:
    """Step over ``size`` bytes of ``stream``: by seeking where it can, else reading in chunks."""
    tell, seek = getattr(stream, "tell", None), getattr(stream, "seek", None)
    if tell is not None and seek is not None and getattr(stream, "seekable", lambda: False)():
        here = tell()
        end = seek(0, 2)
        if here + size > end:
            raise PickleProblem(f"{what}: truncated")
        seek(here + size)
        return
    left = size
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise PickleProblem(f"{what}: truncated")
        left -= len(chunk)


def _pairs(items: list[Any]) -> Iterator[tuple[Any, Any]]:
    for key, value in zip(items[::2], items[1::2], strict=False):
        try:
            hash(key)
        except TypeError:
            continue
        yield key, value


def _identity(value: Any) -> Any:
    return value


# The arguments whose length comes first: (bytes of the length, signed, decoded as).
_LENGTH_PREFIXED = {
    "unicodestring1": (1, False, "utf-8"),
    "unicodestring4": (4, False, "utf-8"),
    "unicodestring8": (8, False, "utf-8"),
    "string1": (1, False, "latin-1"),
    "string4": (4, True, "latin-1"),
    "bytes1": (1, False, None),
    "bytes4": (4, False, None),
    "bytes8": (8, False, None),
    "bytearray8": (8, False, None),
}
# Opcodes that push their argument (or a constant) and do nothing else.
_PUSHES: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(
        (
            "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
            "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE", "BINUNICODE",
            "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
        ),
        _identity,
    ),
    "NONE": lambda _: None,
    "NEWTRUE": lambda _: True,
    "NEWFALSE": lambda _: False,
    "EMPTY_TUPLE": lambda _: (),
    "EMPTY_LIST": lambda _: [],
    "EMPTY_DICT": lambda _: {},
    "EMPTY_SET": lambda _: [],  # a set as a list: its items need not be hashable here
}  # fmt: skip
