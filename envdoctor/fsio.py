"""Reading inputs and writing outputs safely."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from envdoctor.errors import InputError

MAX_INPUT_BYTES = 16 * 1024 * 1024


def project_root(path: str) -> Path:
    """The project a file named by the user belongs to: the git work tree that holds it, else its
    folder (standard input: the current folder's). Nothing outside it is read on the file's say-so."""
    folder = Path(os.path.abspath("." if path == "-" else os.path.dirname(path) or "."))
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return Path(os.path.realpath(candidate))
    return Path(os.path.realpath(folder))


def read_text_input(path: str, root: Path | None = None) -> str:
    """Read a text input file, or standard input for "-", as UTF-8.

    Raises InputError (never OSError or UnicodeDecodeError) naming the file.
    """
    return _decode(read_input_bytes(path, root), path)


def read_input_bytes(path: str, root: Path | None = None) -> bytes:
    """The bytes of an input file, or of standard input for "-" (read once, then remembered).

    The file must resolve inside ``root`` (default: its own project, see project_root), so that
    a committed symlink or an include cannot make envdoctor read (and quote) a file elsewhere on
    the machine; and it must be a regular file, so that a FIFO or a device cannot hang the run.
    """
    if path == "-":
        return _stdin_bytes()
    if "\0" in path:
        raise InputError(_display(path), "a file name cannot hold a NUL byte")
    inside = root if root is not None else project_root(path)
    if not is_inside(Path(os.path.realpath(path)), inside):
        raise InputError(_display(path), f"resolves outside the project ({inside}): not read")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise InputError(_display(path), "not a regular file")
            data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(_display(path), exc.strerror or str(exc)) from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(_display(path), f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    return data


def is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


# Standard input can be read only once; the lock's digest needs its bytes again. The stream is
# kept beside its bytes so that a new stream (tests replace sys.stdin) is read afresh.
_STDIN: list[tuple[object, bytes]] = []


def _stdin_bytes() -> bytes:
    stream = sys.stdin.buffer
    if not _STDIN or _STDIN[0][0] is not stream:
        try:
            data = stream.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise InputError("<stdin>", exc.strerror or str(exc)) from None
        if len(data) > MAX_INPUT_BYTES:
            raise InputError("<stdin>", f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
        _STDIN[:] = [(stream, data)]
    return _STDIN[0][1]


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(_display(path), "not UTF-8 text", line) from None


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to path so that readers see the old file or the new one, never a part.

    The text goes to a temporary file in the same folder, is flushed to disk, then renamed.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def _display(path: str) -> str:
    return "<stdin>" if path == "-" else path
