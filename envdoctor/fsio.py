"""Reading inputs and writing outputs safely."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import re
import shutil
import stat
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from envdoctor.errors import InputError, UsageError
from envdoctor.safety import printable

MAX_INPUT_BYTES = 16 * 1024 * 1024


def project_root(path: str) -> Path:
    """The project a file named by the user belongs to: the git work tree that holds it; outside
    git, the current folder if the file is in it (a project run from its top), else the file's
    folder. Standard input belongs to the current folder. Nothing outside is read on a file's say-so."""
    folder = Path(os.path.abspath("." if path == "-" else os.path.dirname(path) or "."))
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return Path(os.path.realpath(candidate))
    current = Path(os.path.realpath("."))
    real_folder = Path(os.path.realpath(folder))
    return current if is_inside(real_folder, current) else real_folder


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
        raise InputError(
            _display(path),
            f"resolves outside the project ({inside}): not read; run envdoctor from the project's top folder "
            "or inside its git work tree",
        )
    overlaid = _OVERLAY.get()
    edited = overlaid.get(os.path.realpath(path)) if overlaid else None
    if edited is not None:
        return edited
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


def file_head(path: str, size: int) -> bytes | None:
    """The first ``size`` bytes of a regular file, to tell what it is by its content; None for
    anything else (a FIFO or a device, which a read could wait on forever) or an unreadable file:
    the reader of its kind then says why, naming it."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return None


# Edited copies of input files that reads see instead of the files (audit --fix re-judges a fix
# before it writes anything): real path -> bytes. Empty outside overlay().
_OVERLAY: contextvars.ContextVar[Mapping[str, bytes] | None] = contextvars.ContextVar("envdoctor_overlay", default=None)


@contextlib.contextmanager
def overlay(texts: Mapping[str, str]) -> Iterator[None]:
    """Inputs read from ``texts`` (path -> edited text) instead of their files, inside the block."""
    token = _OVERLAY.set({os.path.realpath(path): text.encode("utf-8") for path, text in texts.items()})
    try:
        yield
    finally:
        _OVERLAY.reset(token)


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

    The text goes to `.NAME.XXXXXXXX.tmp` beside the target, gets its mode there (see _mode_for),
    is flushed to disk and renamed over the target. Temporary files of that name left by a killed
    run are removed first. The file's folder must exist; any failure is one line (UsageError).
    """
    target = Path(path)
    folder = target.parent
    with _output_errors(target):
        _check_folder(folder, create=False)
    with _output_errors(target), _folder_lock(folder):
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "it is a folder")
        _remove_stale_temps(folder, {target.name})
        import secrets  # imported here: it pulls in hashlib and random, which a read-only run never needs

        temp = folder / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            _write_file(temp, [text.encode("utf-8")], _mode_for(target, False), False)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        _fsync_folder(folder)


# An output set is the files one command writes together (a target's two lockfiles; a build
# context). Two renames are never atomic together, and the folder cannot be swapped whole: it
# holds other files (lockfiles/ every target's, committed; `-o .` is allowed). So the set is
# staged in a folder inside the destination (same file system), each file flushed to disk, and
# renaming that folder from STAGING to COMMITTED is the one atomic step that makes the new set
# the current one; its files are then renamed into place and the folder removed. A run killed
# before that step leaves a staging folder, which the next writer deletes: the old set stands.
# One killed after it leaves a commit folder, which the next writer empties into place first:
# the new set stands. Only while a commit folder exists can the files in place be torn, and
# readers refuse them then (interrupted_write).
STAGING = ".envdoctor-staging."
COMMITTED = ".envdoctor-commit."
_REPLACED = ".replaced."
# `.NAME.XXXXXXXX.tmp`: atomic_write_text's temporary files, and those of earlier versions (mkstemp).
_TEMP = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


def write_output_set(
    folder: Path,
    texts: Mapping[str, str],
    executable: Collection[str] = (),
    copies: Mapping[str, Sequence[Path]] | None = None,
) -> None:
    """Write files (name to text) and folders of copied files (name to files) into folder, made if
    missing (its parent must exist), so that a reader or a kill -9 at any point finds the whole
    old set or the whole new one."""
    copies = copies or {}
    folder = output_folder(folder, create=True)
    with _output_errors(folder), _folder_lock(folder):
        _remove_stale_temps(folder, {*texts, *copies})
        finish_interrupted_write(folder)
        for name in texts:
            if (folder / name).is_dir() and not (folder / name).is_symlink():
                raise IsADirectoryError(errno.EISDIR, f"{name} is a folder")
        import tempfile

        stage = Path(tempfile.mkdtemp(prefix=STAGING, dir=folder))
        try:
            for name, text in texts.items():
                script = name in executable
                _write_file(stage / name, [text.encode("utf-8")], _mode_for(folder / name, script), script)
            for name, files in copies.items():
                _copy_files(files, stage / name, _mode_for(folder / name, False))
            _fsync_folder(stage)
            committed = stage.with_name(COMMITTED + stage.name.removeprefix(STAGING))
            os.rename(stage, committed)
        except BaseException:
            _remove(stage)
            raise
        _fsync_folder(folder)
        _move_into_place(committed, folder)


def interrupted_write(folder: Path) -> Path | None:
    """The commit folder of a set whose files were being moved into place when its run was
    killed: until the next writer finishes it, the files in folder may be part old, part new."""
    with contextlib.suppress(OSError):
        for entry in sorted(os.listdir(folder)):
            if entry.startswith(COMMITTED):
                return folder / entry
    return None


def finish_interrupted_write(folder: Path) -> None:
    """What killed writes left in folder: a commit folder is moved into place (its set is whole),
    a staging folder is removed (its set never was). Every writer of a set does this first."""
    for entry in sorted(os.listdir(folder)):
        path = folder / entry
        if entry.startswith(COMMITTED) and path.is_dir() and not path.is_symlink():
            _move_into_place(path, folder)
        elif entry.startswith(STAGING):
            _remove(path)


def _move_into_place(committed: Path, folder: Path) -> None:
    """Rename each entry of a commit folder over its namesake; run again after a kill, it goes on
    where it stopped (what was moved is no longer there to move)."""
    for entry in sorted(os.listdir(committed)):
        if entry.startswith(_REPLACED):
            continue
        source, target = committed / entry, folder / entry
        if source.is_dir() and os.path.lexists(target):
            # A folder cannot be renamed over a non-empty one: the old one goes aside, into the
            # commit folder, and is removed with it.
            aside = committed / (_REPLACED + entry)
            _remove(aside)
            os.rename(target, aside)
        os.replace(source, target)
    _fsync_folder(folder)
    _remove(committed)


def _remove_stale_temps(folder: Path, names: Collection[str]) -> None:
    for entry in os.listdir(folder):
        match = _TEMP.fullmatch(entry)
        if match and match.group("name") in names:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(folder / entry)


def output_folder(folder: Path, create: bool) -> Path:
    """The folder an output goes into, made if missing and create is set; a problem is one line."""
    with _output_errors(folder):
        _check_folder(folder, create)
    return folder


def _check_folder(folder: Path, create: bool) -> None:
    """Make the folder if asked, but never its parents: a mistyped -o fails rather than making a
    tree of folders somewhere."""
    if create and not os.path.lexists(folder):
        try:
            os.mkdir(folder)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, f"folder {folder.parent} does not exist") from None
        except NotADirectoryError:
            raise NotADirectoryError(errno.ENOTDIR, f"{folder.parent} is not a folder") from None
    if not folder.exists():
        raise FileNotFoundError(errno.ENOENT, f"folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is not a folder")


@contextlib.contextmanager
def _output_errors(path: Path) -> Iterator[None]:
    """An OSError while writing is the user's to fix (a path, a full disk): one line, exit 2."""
    try:
        yield
    except OSError as exc:
        raise UsageError(f"cannot write {printable(str(path))}: {printable(exc.strerror or str(exc))}") from None


@contextlib.contextmanager
def reading_output_set(folder: Path) -> Iterator[None]:
    """Read the files of an output set under a shared lock on their folder, so that no writer
    moves a new set into place half-way through the reading (no lock where none can be taken)."""
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(OSError):
            stack.enter_context(_folder_lock(folder, shared=True))
        yield


@contextlib.contextmanager
def _folder_lock(folder: Path, shared: bool = False) -> Iterator[None]:
    """Hold an exclusive lock on the folder while writing in it, so that what one run cleans up
    (stale temporary files, unfinished sets) is never what another run is writing right now."""
    if sys.platform == "win32":  # no flock there: writers are not serialised
        yield
        return
    import fcntl

    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):  # a file system without locks: unserialised
            fcntl.flock(descriptor, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _mode_for(target: Path, executable: bool) -> int | None:
    """The mode to give a file before it is renamed over target: the existing file's (plus
    execute where it can be read, for a script); None for a new file, whose mode then comes from
    creating it with 0o666 (0o777 for a script) under the umask, as any new file's does."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return None
    return mode | ((mode & 0o444) >> 2) if executable else mode


def _write_file(path: Path, chunks: Iterable[bytes], mode: int | None, executable: bool) -> None:
    """A new file with its mode set first, its bytes written and flushed to disk."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags, 0o777 if executable else 0o666)
    try:
        if mode is not None:
            os.fchmod(descriptor, mode)
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _copy_files(files: Sequence[Path], folder: Path, mode: int | None) -> None:
    os.mkdir(folder, 0o777)
    if mode is not None:
        os.chmod(folder, mode)
    for file in files:
        with file.open("rb") as source:  # in pieces: a wheel can be gigabytes
            _write_file(folder / file.name, iter(lambda: source.read(1 << 20), b""), None, False)
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk; not every file system can."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _display(path: str) -> str:
    return "<stdin>" if path == "-" else path
