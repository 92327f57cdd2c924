"""A resolver that is missing, killed, out of time, cut off from its index or talking in bytes that
are not UTF-8; sdists that are hostile archives or come from a server that trickles them.

uv is replaced by a small shell script (``fake_uv``) through the one seam that names its binary,
``envdoctor.resolve.uv.uv_binary``, so that every case runs in well under a second; one case runs
the real uv against a closed local port. Downloads are tested against a local http.server.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import io
import os
import random
import signal
import socket
import struct
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envdoctor.cli import main
from envdoctor.errors import UsageError
from envdoctor.host.profile import HostProfile, Libc
from envdoctor.image import sources
from envdoctor.image.sources import SourceProblem, inspect_sdist
from envdoctor.resolve import uv
from envdoctor.resolve.target import target_of
from envdoctor.safety import UnsafeValue

HOST_FLAGS = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]
ESCAPES = ("\x1b", "\x07", "\x9b", "\r")
# uv 0.13's own words for an index on a closed port (UV_HTTP_RETRIES=0).
UNREACHABLE = """error: Failed to fetch: http://127.0.0.1:9/simple/requests/
  cause: error sending request for url (http://127.0.0.1:9/simple/requests/)
  cause: client error (Connect)
  cause: tcp connect error
  cause: Connection refused (os error 111)
"""
PYLOCK = """lock-version = "1.0"
created-by = "uv"
requires-python = ">=3.11"

[[packages]]
name = "requests"
version = "2.31.0"
index = "https://pypi.org/simple"

[[packages.wheels]]
name = "requests-2.31.0-py3-none-any.whl"
url = "https://files.pythonhosted.org/packages/70/8e/requests-2.31.0-py3-none-any.whl"
hashes = { sha256 = "58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f" }
"""


# --- the resolver -----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with one requirement, as the working folder."""
    (tmp_path / "requirements.txt").write_text("requests==2.31.0\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


FakeUv = Callable[[str], None]


@pytest.fixture
def fake_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeUv:
    """Make ``uv`` a shell script with this body."""

    def install(body: str) -> None:
        script = tmp_path / "bin" / "uv"
        script.parent.mkdir(exist_ok=True)
        script.write_text("#!/bin/sh\n" + body + "\n")
        script.chmod(0o755)
        monkeypatch.setattr(uv, "uv_binary", lambda: str(script))

    return install


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("envdoctor: error: "), err
    assert "Traceback" not in err and not any(escape in err for escape in ESCAPES), err
    for fragment in fragments:
        assert fragment in err, err


COMMANDS = {
    "audit --resolve": ["audit", "requirements.txt", "--resolve", *HOST_FLAGS],
    "lock": ["lock", "requirements.txt", *HOST_FLAGS],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_uv_missing_is_a_one_line_error_saying_how_to_get_it(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    import uv as uv_package

    def not_found() -> str:
        raise uv_package._find_uv.UvNotFound("Could not find the uv binary in any of the following locations:\n - /x\n")

    monkeypatch.setattr(uv_package, "find_uv_bin", not_found)
    code, _, err = run(COMMANDS[command], capsys)
    assert_one_line_error(code, err, "cannot find the uv binary", "pip install uv")


def test_uv_that_cannot_be_executed_is_a_one_line_error(
    project: Path, fake_uv: FakeUv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_uv("exit 0")
    (project / "bin" / "uv").chmod(0o644)
    code, _, err = run(COMMANDS["audit --resolve"], capsys)
    assert_one_line_error(code, err, "cannot run uv")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_uv_words_that_are_not_utf8_or_hold_escapes_are_quoted_printable(
    project: Path, fake_uv: FakeUv, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    fake_uv(
        r"printf 'error: No solution found when resolving dependencies\n' >&2;"
        r"printf '  cause: Because \377\376 requests==2.31.0 \033]0;pwned\007\033[2J is \233 bad.\n' >&2; exit 1"
    )
    code, out, err = run(COMMANDS[command], capsys)
    assert code == 1, err
    assert "ED204" in out and "requests==2.31.0" in out
    assert "\\x1b]0;pwned\\x07\\x1b[2J" in out and "\ufffd" in out
    assert not any(escape in out + err for escape in ESCAPES)


def test_uv_output_that_is_not_utf8_after_a_resolution_is_no_traceback(
    project: Path, fake_uv: FakeUv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_uv(f"cat > pylock.toml <<'EOF'\n{PYLOCK}EOF\nprintf '\\377\\376\\n'; printf '\\377 warning\\n' >&2; exit 0")
    code, out, err = run(COMMANDS["audit --resolve"], capsys)
    assert code in (0, 1) and "Traceback" not in err, err
    assert "ED204" not in out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_uv_killed_by_a_signal_is_an_error_not_an_unsatisfiable_set(
    project: Path, fake_uv: FakeUv, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    fake_uv("echo 'error: half a thought' >&2; kill -9 $$")
    code, out, err = run(COMMANDS[command], capsys)
    assert_one_line_error(code, err, "the resolver was killed by signal 9 (SIGKILL)")
    assert "ED204" not in out and not list(project.glob("lockfiles/*"))


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unreachable_index_is_an_error_not_an_unsatisfiable_set(
    project: Path, fake_uv: FakeUv, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    fake_uv(f"cat >&2 <<'EOF'\n{UNREACHABLE}EOF\nexit 2")
    code, out, err = run(COMMANDS[command], capsys)
    assert_one_line_error(
        code,
        err,
        "cannot reach the package index: Failed to fetch: http://127.0.0.1:9/simple/requests/ "
        "(Connection refused (os error 111))",
    )
    assert "ED204" not in out and "relax" not in out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_resolver_out_of_time_is_an_error_not_an_unsatisfiable_set(
    project: Path, fake_uv: FakeUv, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    monkeypatch.setattr(uv, "TIMEOUT_S", 0.3)  # the one timeout of every resolver call
    fake_uv("exec sleep 5")
    started = time.monotonic()
    code, out, err = run(COMMANDS[command], capsys)
    assert time.monotonic() - started < 3
    assert_one_line_error(code, err, "uv did not finish within 0.3 s")
    assert "ED204" not in out


def test_drift_check_with_an_unreachable_index_is_an_error_not_drift(
    project: Path, fake_uv: FakeUv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_uv(f"cat > pylock.toml <<'EOF'\n{PYLOCK}EOF")
    code, _, err = run(COMMANDS["lock"], capsys)
    assert code == 0, err
    fake_uv(f"cat >&2 <<'EOF'\n{UNREACHABLE}EOF\nexit 2")
    code, out, err = run(["lock", "requirements.txt", "--check", "--resolve", *HOST_FLAGS], capsys)
    assert_one_line_error(code, err, "cannot reach the package index")
    assert "stale" not in out
    fake_uv("kill -9 $$")
    code, out, err = run(["lock", "requirements.txt", "--check", "--resolve", *HOST_FLAGS], capsys)
    assert_one_line_error(code, err, "killed by signal 9")


def test_a_resolver_that_writes_no_lock_is_an_error(
    project: Path, fake_uv: FakeUv, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_uv(r"printf '\377\376' > pylock.toml")
    code, _, err = run(COMMANDS["lock"], capsys)
    assert_one_line_error(code, err, "uv exited 0 but wrote no readable pylock.toml")


def test_the_real_uv_on_a_closed_port_is_an_unreachable_index(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (project / "requirements.txt").write_text(f"--index-url http://127.0.0.1:{port}/simple\nrequests==2.31.0\n")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    monkeypatch.setenv("UV_NO_CONFIG", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(project / "cache"))
    code, out, err = run(COMMANDS["audit --resolve"], capsys)
    assert_one_line_error(code, err, f"cannot reach the package index: Failed to fetch: http://127.0.0.1:{port}/")
    assert "ED204" not in out


@pytest.mark.parametrize(
    "words",
    [
        # pip (the pip-tools backend), after its retries
        "WARNING: Retrying (Retry(total=0)) after connection broken by 'NewConnectionError(': Failed to establish "
        "a new connection: [Errno 111] Connection refused')': /simple/requests/\n"
        "ERROR: Could not find a version that satisfies the requirement requests==2.31.0",
        "error: Failed to fetch: https://nonexistent.invalid/simple/requests/\n  cause: dns error\n",
    ],
)
def test_the_one_classifier_knows_pip_and_uv_network_failures(words: str) -> None:
    with pytest.raises(uv.IndexUnreachable, match=r"^cannot reach the package index: "):
        uv.classify_failure(1, words, "resolver")


def test_the_one_classifier_keeps_an_unsatisfiable_set_a_verdict() -> None:
    words = "error: No solution found\n  cause: Because numpy==99 was not found, requirements are unsatisfiable.\n"
    assert uv.classify_failure(1, words, "uv") == (
        "error: No solution found\ncause: Because numpy==99 was not found, requirements are unsatisfiable."
    )
    with pytest.raises(uv.ResolverFailed, match="killed by signal 15 \\(SIGTERM\\)"):
        uv.classify_failure(-15, words, "uv")


def test_the_work_meant_for_the_resolvers_wait_runs_while_it_runs(tmp_path: Path) -> None:
    # The resolver answers only once ``meanwhile`` has run: were it run after the wait, the
    # resolver would give up and say so instead of "ready".
    go = tmp_path / "go"
    waits = (
        "import pathlib, sys, time\n"
        f"go = pathlib.Path({str(go)!r})\n"
        "for _ in range(200):\n    if go.exists():\n        print('ready'); sys.exit(0)\n    time.sleep(0.05)\n"
        "print('gave up'); sys.exit(1)\n"
    )
    answer = uv.resolver_answer([sys.executable, "-c", waits], "fake", timeout=60, meanwhile=go.touch)
    assert answer == uv.Answer("ready\n", None)


def test_a_failure_while_the_resolver_runs_stops_the_resolver(tmp_path: Path) -> None:
    # As subprocess.run does: an error (or ^C) in the meanwhile work kills the resolver, which would
    # otherwise be waited for to its end. A watchdog ends the resolver if nothing else does.
    pid_file = tmp_path / "pid"
    sleeper = f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); time.sleep(600)"
    rescued: list[int] = []

    def watchdog() -> None:
        time.sleep(30)
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
            rescued.append(1)

    def fails() -> None:
        while not pid_file.exists():
            time.sleep(0.01)
        raise RuntimeError("meanwhile failed")

    threading.Thread(target=watchdog, daemon=True).start()
    with pytest.raises(RuntimeError, match="meanwhile failed"):
        uv.resolver_answer([sys.executable, "-c", sleeper], "fake", timeout=600, meanwhile=fails)
    assert not rescued


@pytest.mark.parametrize(
    "lines",
    [["requests\n--index-url https://evil.example/simple"], ["--find-links /tmp/evil"], ["-r /etc/passwd"]],
)
def test_a_requirement_cannot_become_an_option_of_the_resolver(lines: list[str]) -> None:
    with pytest.raises(UnsafeValue):
        uv.input_file(lines, "requirement")


def test_a_pip_tools_index_line_is_one_token() -> None:
    from envdoctor.lock import backends
    from envdoctor.lock.steering import Steering
    from envdoctor.requirements.model import IndexOptions, RequirementSet

    indexes = IndexOptions(index_url="https://pypi.org/simple --trusted-host evil.example -r /etc/passwd")
    requirements = RequirementSet(requirements=(), inputs=(), indexes=indexes)
    request = backends.LockRequest(requirements, None, Steering())  # type: ignore[arg-type]
    with pytest.raises(UnsafeValue, match="not one token"):
        backends._pip_index_lines(request)


@pytest.mark.parametrize("version", ["2.x", "2.\u00b2\u00b3", "2." + "9" * 5000, "2.35\n"])
def test_a_glibc_version_that_is_not_one_is_a_usage_error(version: str) -> None:
    host = HostProfile(os="linux", arch="x86_64", python="3.11", libc=Libc("glibc", version))
    with pytest.raises(UsageError, match=r"is not a version like 2\.35"):
        target_of(host, "h")


def test_a_python_version_that_is_not_one_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"is not a version like 3\.11"):
        target_of(HostProfile(os="linux", arch="x86_64", python="3.11\n/../x"), "h")


# --- sdists -----------------------------------------------------------------------------------

PYPROJECT = b'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'


def zip_sdist(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_sdist(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def patched_zip(field: str, value: int) -> bytes:
    """A zip sdist whose pyproject.toml has ``field`` (method or flags) set in both of its headers."""
    data = bytearray(zip_sdist({"pkg-1.0/pyproject.toml": PYPROJECT}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    offsets = {"method": (local + 8, central + 10), "flags": (local + 6, central + 8)}[field]
    for offset in offsets:
        struct.pack_into("<H", data, offset, value)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (patched_zip("method", 99), "compression method 99 is not one sdists use"),
        (patched_zip("method", zipfile.ZIP_BZIP2), "compression method 12 is not one sdists use"),
        (patched_zip("flags", 0x1), "holds an encrypted member"),
        (patched_zip("flags", 0x40), "not a readable sdist"),
    ],
)
def test_a_zip_sdist_zipfile_cannot_read_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(SourceProblem, match=f"^pkg-1.0.zip: {message}"):
        inspect_sdist(data, "pkg-1.0.zip")


def zip_of_members(count: int) -> bytes:
    """A zip64 archive of ``count`` central directory entries (all naming one empty local file),
    built in a blink: what matters is what its directory declares."""
    name = b"pkg-1.0/f"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0, 0, 0) + name
    directory = entry * count
    end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), len(local))
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, len(local) + len(directory), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return local + directory + end64 + locator + end


def tar_of_members(count: int) -> bytes:
    """A .tar.gz of ``count`` empty files, as gzip members of a thousand headers each."""
    block = gzip.compress(tarfile.TarInfo("pkg-1.0/f").tobuf() * 1000, 1)
    return block * (count // 1000) + gzip.compress(b"\0" * 1024)


def test_a_zip_sdist_of_400000_members_is_refused_before_it_is_read() -> None:
    data = zip_of_members(400_000)
    started = time.monotonic()
    with pytest.raises(SourceProblem, match=r"^pkg-1.0.zip: more than 100000 members, not read$"):
        inspect_sdist(data, "pkg-1.0.zip")
    assert time.monotonic() - started < 0.5


def test_a_tar_sdist_of_400000_members_is_refused_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_MEMBERS", 5_000)  # the default (100,000) takes seconds to reach
    with pytest.raises(SourceProblem, match=r"^pkg-1.0.tar.gz: more than 5000 members, not read$"):
        inspect_sdist(tar_of_members(400_000), "pkg-1.0.tar.gz")


@pytest.mark.parametrize("maker", [zip_sdist, tar_sdist])
def test_an_sdist_member_or_whole_too_large_to_unpack_is_refused(
    monkeypatch: pytest.MonkeyPatch, maker: Callable[[dict[str, bytes]], bytes]
) -> None:
    archive = "pkg-1.0.zip" if maker is zip_sdist else "pkg-1.0.tar.gz"
    monkeypatch.setattr(sources, "MAX_MEMBER_BYTES", 1000)
    with pytest.raises(SourceProblem, match=f"^{archive}: a member of 1001 bytes"):
        inspect_sdist(maker({"pkg-1.0/pyproject.toml": PYPROJECT, "pkg-1.0/data": b"x" * 1001}), archive)
    monkeypatch.setattr(sources, "MAX_UNPACKED_BYTES", 5000)
    files = {"pkg-1.0/pyproject.toml": PYPROJECT} | {f"pkg-1.0/d{n}": b"x" * 900 for n in range(6)}
    with pytest.raises(SourceProblem, match=f"^{archive}: more than 5000 bytes unpacked"):
        inspect_sdist(maker(files), archive)


def test_tar_headers_count_towards_the_unpacked_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_UNPACKED_BYTES", 100_000)
    with pytest.raises(SourceProblem, match="more than 100000 bytes unpacked"):
        inspect_sdist(tar_of_members(1000), "pkg-1.0.tar.gz")  # 1000 empty files: 512 kB of headers


def test_an_sdist_pyproject_nested_5000_deep_is_refused() -> None:
    deep = b"[build-system]\nrequires = " + b"[" * 5000 + b"]" * 5000 + b"\n"
    for archive, maker in (("pkg-1.0.tar.gz", tar_sdist), ("pkg-1.0.zip", zip_sdist)):
        with pytest.raises(SourceProblem, match=f"^{archive}: its pyproject.toml is not usable"):
            inspect_sdist(maker({"pkg-1.0/pyproject.toml": deep}), archive)


def test_an_sdist_build_requirement_with_an_escape_is_refused() -> None:
    pyproject = b'[build-system]\nrequires = ["setuptools @ https://example.org/\\u001b]0;pwned\\u0007"]\n'
    with pytest.raises(SourceProblem, match="holds a control character") as caught:
        inspect_sdist(tar_sdist({"pkg-1.0/pyproject.toml": pyproject}), "pkg-1.0.tar.gz")
    assert not any(escape in str(caught.value) for escape in ESCAPES)


def test_mutated_sdists_are_read_or_refused_never_a_traceback() -> None:
    rng = random.Random(11)
    files = {"pkg-1.0/pyproject.toml": PYPROJECT, "pkg-1.0/setup.py": b"setup(ext_modules=[])", "pkg-1.0/a.c": b""}
    plain_tar = gzip.decompress(tar_sdist(files))
    seeds = [("pkg-1.0.zip", zip_sdist(files), False), ("pkg-1.0.tar.gz", plain_tar, True)]
    seeds.append(("pkg-1.0.tar.gz", tar_sdist(files), False))
    for _ in range(1500):
        archive, seed, compress = rng.choice(seeds)
        data = bytearray(seed)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[position] = rng.randrange(256)
            else:
                del data[position : position + rng.randint(1, 40)]
        try:
            inspect_sdist(gzip.compress(bytes(data), 1) if compress else bytes(data), archive)
        except SourceProblem as exc:
            assert "\n" not in str(exc) and not any(escape in str(exc) for escape in ESCAPES)


def test_an_sdist_name_is_quoted_printable() -> None:
    from packaging.pylock import Package, PackageSdist
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    sdist = PackageSdist(name="\x1b]0;pwned\x07.tar.gz", url="https://example.org/x", hashes={"sha256": "0" * 64})
    package = Package(name=canonicalize_name("pkg"), version=Version("1.0"), sdist=sdist)
    with pytest.raises(SourceProblem, match=r"x1b\]0;pwned\\+x07.tar.gz' is not an sdist file name") as caught:
        sources.source_builds([package], None)
    assert "\x1b" not in str(caught.value)


# --- downloads --------------------------------------------------------------------------------


class _Server:
    def __init__(self) -> None:
        self.release = threading.Event()  # the handlers stop trickling at teardown
        self.url = ""


@pytest.fixture
def server() -> Iterator[_Server]:
    """A local HTTP server: /ok, /trickle (a body byte every 0.2 s), /slow-headers (a status-line
    byte every 5 s), /huge (declares 10 GB), /endless (sends without a length)."""
    state = _Server()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            with contextlib.suppress(OSError):  # the client gave up
                self._answer()

        def _answer(self) -> None:
            if self.path == "/slow-headers":
                for byte in b"HTTP/1.0 200 OK\r\n\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if state.release.wait(5):
                        return
                return
            if self.path == "/trickle":
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    if state.release.wait(0.2):
                        return
                return
            self.send_response(200)
            if self.path == "/endless":  # no length: the body ends when the connection does
                self.close_connection = True
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b"y" * 1024)
                return
            body = b"sdist bytes" if self.path == "/ok" else b""
            self.send_header("Content-Length", "10000000000" if self.path == "/huge" else str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_a_download_is_read_whole(server: _Server) -> None:
    assert sources.fetch(f"{server.url}/ok", "pkg-1.0.tar.gz", deadline_s=5) == b"sdist bytes"


@pytest.mark.parametrize("path", ["/trickle", "/slow-headers"])
def test_a_trickling_server_meets_the_deadline_of_the_whole_download(server: _Server, path: str) -> None:
    started = time.monotonic()
    with pytest.raises(SourceProblem, match=r"^cannot fetch pkg-1.0.tar.gz: .*pass --wheelhouse$"):
        sources.fetch(f"{server.url}{path}", "pkg-1.0.tar.gz", deadline_s=1.0)
    # Far below the 5 s a single header byte of /slow-headers takes, or /trickle's 20 s; room is
    # left above the 1 s deadline for a machine busy with another test run.
    assert time.monotonic() - started < 4.0


@pytest.mark.parametrize("path", ["/huge", "/endless"])
def test_a_download_past_the_size_cap_is_refused(server: _Server, path: str) -> None:
    with pytest.raises(SourceProblem, match=r"^cannot fetch pkg-1\.0\.tar\.gz: larger than 50000 bytes"):
        sources.fetch(f"{server.url}{path}", "pkg-1.0.tar.gz", deadline_s=5, limit=50_000)


def test_a_download_that_fails_is_one_printable_line(server: _Server) -> None:
    with pytest.raises(SourceProblem) as caught:
        sources.fetch(server.url.replace("http", "htt\x1bp") + "/ok", "pkg-1.0.tar.gz", deadline_s=5)
    assert "\x1b" not in str(caught.value) and "\n" not in str(caught.value)


def test_an_sdist_download_has_a_deadline_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def recording(url: str, archive: str, timeout: float, limit: int, stop: threading.Event) -> bytes:
        seen.update(url=url, timeout=timeout, limit=limit)
        return b"data"

    monkeypatch.setattr(sources, "_read_url", recording)
    assert sources._download("https://files.example/pkg-1.0.tar.gz", "pkg-1.0.tar.gz") == b"data"
    assert seen == {"url": "https://files.example/pkg-1.0.tar.gz", "timeout": 60.0, "limit": sources.MAX_SDIST_BYTES}
    assert sources.DOWNLOAD_DEADLINE_S <= 600
