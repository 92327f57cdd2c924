"""The GitHub Action's work, as a program the action's steps call with their inputs in the
environment (never in the command text): audit, then report to the job summary, as workflow
annotations, as a SARIF file and as step outputs, and optionally check lockfiles and images.

    python -m envdoctor.github_action
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shlex
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor import api
from envdoctor.audit.run import exit_code
from envdoctor.config import load_config
from envdoctor.console import Style
from envdoctor.errors import EnvdoctorError, UsageError
from envdoctor.findings import Severity
from envdoctor.fsio import atomic_write_text
from envdoctor.host.profile import HostProfile
from envdoctor.host.select import load_hosts, load_profile
from envdoctor.image.context import ImageOptions
from envdoctor.lock import LockOptions
from envdoctor.report import OutputFormat
from envdoctor.report.github import escape_data as _escape_data
from envdoctor.report.github import escape_property as _escape_property
from envdoctor.requirements import SourceOptions
from envdoctor.safety import printable, printable_lines, snippet

if TYPE_CHECKING:
    from envdoctor.fix.plan import FixResult


def _words(name: str) -> list[str]:
    """An input that lists files or globs, separated by spaces or new lines (quotes as in a shell)."""
    try:
        return shlex.split(os.environ.get(name, ""))
    except ValueError as exc:  # an unclosed quote: "it's requirements.txt"
        input_name = name.removeprefix("ENVDOCTOR_").lower().replace("_", "-")
        raise UsageError(f'{input_name}: {exc} (quote a name that holds a quote: "it\'s.txt")') from None


def _expand(patterns: list[str], what: str) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True))
        if not matches:
            raise UsageError(f"{what}: nothing matches {pattern!r}")
        found += matches
    return list(dict.fromkeys(found))


def _print_inert(text: str) -> None:
    """Print text that quotes the input into the runner's log with workflow commands stopped, so
    that no line of it (a file name, a GPU name, a URL) is read as one: the runner ignores every
    command until it sees the token, which nobody can know in advance."""
    token = secrets.token_hex(16)
    print(f"::stop-commands::{token}")
    sys.stdout.write(printable_lines(text))
    print(f"\n::{token}::", flush=True)


def _append(path_variable: str, text: str) -> None:
    path = os.environ.get(path_variable)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def _hosts(configured: tuple[str, ...]) -> list[tuple[str, HostProfile]]:
    hosts = _profiles(configured)
    if hosts:
        return hosts
    # A CI runner is not the production host: without profiles, the audit judges the set alone.
    return [("no host profile", HostProfile(os="linux", arch="x86_64"))]


def _profiles(configured: tuple[str, ...]) -> list[tuple[str, HostProfile]]:
    """The hosts the inputs name: each profile, and each node class of a cluster (a fleet file, or
    kubectl's list of nodes), as --host reads them."""
    files = _expand(_words("ENVDOCTOR_HOSTS") or list(configured), "hosts")
    return [host for path in files for host in load_hosts(path)]


def _fix_diff(result: FixResult) -> str:
    """The fixes `envdoctor audit --fix` would write, as a diff block for the job summary (nothing
    is written here: the pull request's author applies them)."""
    diff = result.diff()
    if not diff:
        return ""
    text = printable_lines(diff)
    # A fence longer than any run of backticks in the files' text, so that no line can close it.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"\n### Fixes `envdoctor audit --fix` would write\n\n{fence}diff\n{text}{fence}\n"


def audit() -> int:
    files = _expand(_words("ENVDOCTOR_FILES") or ["requirements.txt"], "files")
    try:
        fail_on = Severity.parse(os.environ.get("ENVDOCTOR_FAIL_ON") or "error")
    except UsageError as exc:
        raise UsageError(f"fail-on: {exc}") from None
    sarif_path = os.environ.get("ENVDOCTOR_SARIF_FILE") or "envdoctor.sarif"
    if "\n" in sarif_path or "\r" in sarif_path:
        raise UsageError("sarif-file: a path cannot hold a line break")
    config = load_config(Path())  # [tool.envdoctor] applies in CI as on the command line
    sources = SourceOptions(target=config.target)
    # The audit, and the fixes it offers (planned and re-judged, never written in CI).
    fixes = api.fix(files, hosts=_hosts(config.hosts), sources=sources, ignore=config.ignore, write=False)
    report = fixes.before
    plain = Style(enabled=False)
    atomic_write_text(sarif_path, OutputFormat.SARIF.render(report, plain))
    _append("GITHUB_STEP_SUMMARY", OutputFormat.MARKDOWN.render(report, plain) + _fix_diff(fixes))
    sys.stdout.write(OutputFormat.GITHUB.render(report, plain))  # the annotations, as --format github prints them
    counts = report.counts()
    _append(
        "GITHUB_OUTPUT",
        f"findings={len(report.findings)}\nerrors={counts['error']}\nwarnings={counts['warning']}\nsarif-file={sarif_path}\n",
    )
    _print_inert(OutputFormat.TEXT.render(report, plain))
    return exit_code(report, fail_on)


def check_locks() -> int:
    from envdoctor.lock import default_inputs

    files = _expand(_words("ENVDOCTOR_LOCK_FILES") or _words("ENVDOCTOR_FILES"), "lock-files") or default_inputs()
    hosts = _profiles(load_config(Path()).hosts)
    options = LockOptions(output_dir=Path(os.environ.get("ENVDOCTOR_LOCKFILES_DIR") or "lockfiles"))
    resolve = os.environ.get("ENVDOCTOR_RESOLVE") == "true"
    # Without profiles, the lockfiles are those made for this runner, as `envdoctor lock --check` does.
    checked = api.check_locks(files, hosts=hosts or None, options=options, resolve=resolve)
    lines = [f"refused: {why}" for why in checked.refused] + [f"stale: {problem}" for problem in checked.stale]
    if lines:
        lines.append("run `envdoctor lock` to update the lockfiles")
    else:
        fresh = " and a fresh resolution" if resolve else ""
        lines.append(f"{len(checked.targets)} target(s): lockfiles match their inputs{fresh}")
    _print_inert("\n".join(lines) + "\n")
    return 1 if checked.stale or checked.refused else 0


def check_images() -> int:
    """Regenerate each image folder (lock/ and host.json inside) and compare with what is committed."""
    failures = 0
    for folder in _expand(_words("ENVDOCTOR_IMAGES"), "images"):
        base = Path(folder)
        locks = sorted((base / "lock").glob("requirements.*.txt"))
        if not locks or not (base / "host.json").is_file():
            raise UsageError(f"images: {folder} needs lock/requirements.*.txt and host.json")
        host = (str(base / "host.json"), load_profile(str(base / "host.json")))
        with tempfile.TemporaryDirectory() as scratch:
            options = ImageOptions(tag=f"envdoctor/{base.name}:1")
            try:
                context = api.dockerfile([locks[0]], scratch, host=host, options=options)
                written = True
                _print_inert(f"wrote {context.output_dir / 'Dockerfile'} (base {context.plan.base.name})\n")
            except api.Refused as refused:
                written = False
                _print_inert("".join(f"refused: {why}\n" for why in refused.reasons))
            for name in ("Dockerfile", ".dockerignore", "build.sh", "requirements.lock"):
                fresh, committed = Path(scratch) / name, base / name
                if not written or not committed.is_file() or fresh.read_bytes() != committed.read_bytes():
                    where = _escape_property(printable(str(committed)))
                    print(f"::error file={where},title=envdoctor::{name} is not what envdoctor dockerfile writes now: "
                          "regenerate it")  # fmt: skip
                    failures += 1
    return 1 if failures else 0


COMMANDS = {"audit": audit, "check-locks": check_locks, "check-images": check_images}


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1 or arguments[0] not in COMMANDS:
        print(f"usage: python -m envdoctor.github_action {{{','.join(COMMANDS)}}}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[arguments[0]]()
    except EnvdoctorError as exc:
        print(f"::error title=envdoctor::{_escape_data(printable(str(exc)))}")
        return 2
    except Exception as exc:
        if os.environ.get("ENVDOCTOR_DEBUG"):
            raise
        # As on the command line: a bug is exit 3, never the 1 that means findings.
        message = f"internal error: {type(exc).__name__}: {snippet(str(exc), 200)} (a bug in envdoctor)"
        print(f"::error title=envdoctor::{_escape_data(message)}")
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
