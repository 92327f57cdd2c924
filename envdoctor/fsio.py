"""Reading inputs and writing outputs safely."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from envdoctor.errors import InputError

MAX_INPUT_BYTES = 16 * 1024 * 1024


def read_text_input(path: str) -> str:
    """Read a text input file, or standard input for "-", as UTF-8.

    Raises InputError (never OSError or UnicodeDecodeError) naming the file.
    """
    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(_display(path), exc.strerror or str(exc)) from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(_display(path), f"larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
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
