"""envdoctor as a library: what each command does, as a function that returns a typed result.

    from envdoctor import api

    host = api.load_host("gpu-node.json")            # or api.probe(), or api.probe(text=...)
    report = api.audit(["requirements.txt"], hosts=[host])
    fixed = api.fix(["requirements.txt"], hosts=[host], write=False)  # fixed.diff()
    result = api.lock(["requirements.in"], hosts=[host])
    stale = api.check_locks(["requirements.in"], hosts=[host])
    context = api.dockerfile(["lockfiles/requirements.linux-x86_64-py3.11.txt"], "image")

Hosts are ``HostProfile`` values, or ``(name, HostProfile)`` pairs where a report should name
them; none means this machine (probed), except for ``dockerfile``, which then judges the image
for no host in particular. Bad input raises ``InputError`` (a file and a line) or ``UsageError``
(an argument). A request that is sound but cannot work writes nothing and says why: ``refused``
in a lock's result, ``Refused`` (with its ``reasons``) from ``dockerfile``. Findings are values
in the report, never exceptions. The command line is a thin
layer over these functions: it parses arguments, calls one, and prints its result.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from envdoctor.audit.result import AuditReport
from envdoctor.errors import EnvdoctorError, InputError, Refused, UsageError
from envdoctor.host.profile import HostProfile
from envdoctor.requirements import SourceOptions
from envdoctor.requirements.model import IndexOptions, Input

if TYPE_CHECKING:
    from envdoctor.audit.run import AuditOptions
    from envdoctor.capture import Frozen
    from envdoctor.fix.plan import FixResult
    from envdoctor.image.context import BuildContext, ImageOptions
    from envdoctor.lock import LockFailure, LockOptions

__all__ = [
    "AuditReport",
    "BuildContext",
    "Captured",
    "EnvdoctorError",
    "HostProfile",
    "ImageOptions",
    "InputError",
    "LockCheck",
    "LockOptions",
    "LockResult",
    "Refused",
    "SourceOptions",
    "UsageError",
    "audit",
    "capture",
    "check_locks",
    "dockerfile",
    "fix",
    "load_host",
    "lock",
    "probe",
]

Host = HostProfile | tuple[str, HostProfile]
# The defaults, as the command line's: every file read as its kind, its default groups applied.
_ALL_SOURCES = SourceOptions()


class LockResult(NamedTuple):
    """What ``lock`` did: the lockfiles written (none unless every target resolved); each target
    that did not resolve, with the findings that say why; or why it refused (no build the
    knowledge base knows runs on a target), in which case nothing was resolved or written."""

    inputs: tuple[Input, ...]
    targets: tuple[tuple[str, HostProfile], ...]
    written: tuple[Path, ...] = ()
    unresolved: tuple[LockFailure, ...] = ()
    refused: tuple[str, ...] = ()


class LockCheck(NamedTuple):
    """What ``check_locks`` found: why each lockfile is stale (none: all current), or why it refused."""

    inputs: tuple[Input, ...]
    targets: tuple[tuple[str, HostProfile], ...]
    stale: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


def probe(*, text: str | None = None, source: str = "<text>") -> HostProfile:
    """This machine; or, given ``text`` (pasted ``nvidia-smi``, ``/proc/driver/nvidia/version``,
    ``collect_env`` or Kubernetes node output), the host it describes (``source`` names it in errors)."""
    if text is not None:
        from envdoctor.host.importers import import_host

        return import_host(text, source)
    from envdoctor.host.probe import probe_host
    from envdoctor.host.system import LocalSystem

    return probe_host(LocalSystem())


def load_host(path: str | Path) -> HostProfile:
    """A saved host profile (``envdoctor probe --format json``)."""
    from envdoctor.host.select import load_profile

    return load_profile(str(path))


def audit(
    files: Sequence[str | Path],
    *,
    hosts: Sequence[Host] | None = None,
    sources: SourceOptions = _ALL_SOURCES,
    ignore: frozenset[str] = frozenset(),
    resolve: bool = False,
) -> AuditReport:
    """What will break when ``files`` are installed on each host, why, and the fix.

    ``ignore`` holds finding codes or categories; ``resolve`` asks the resolver (uv) what each
    host would really install, which needs the package index."""
    from envdoctor.audit.run import run_audit
    from envdoctor.requirements import load_requirement_set

    requirements = load_requirement_set([str(path) for path in files], sources)
    return run_audit(requirements, _named(hosts), _audit_options(ignore, resolve))


def fix(
    files: Sequence[str | Path],
    *,
    hosts: Sequence[Host] | None = None,
    sources: SourceOptions = _ALL_SOURCES,
    ignore: frozenset[str] = frozenset(),
    resolve: bool = False,
    write: bool = True,
) -> FixResult:
    """Audit ``files``, then apply each fix that the audit, run again on the edited files, finds
    clean on every host; with ``write`` false nothing is written (``FixResult.diff()`` shows what
    would be). Lockfiles, Dockerfiles and conda files are not edited: their fixes are reported."""
    from envdoctor import fsio
    from envdoctor.audit.run import run_audit
    from envdoctor.fix.plan import plan
    from envdoctor.requirements import load_requirement_set

    paths = [str(path) for path in files]
    options = _audit_options(ignore, resolve)
    requirements = load_requirement_set(paths, sources)
    report = run_audit(requirements, _named(hosts), options)
    result = plan(
        report,
        requirements,
        lambda: load_requirement_set(paths, sources),
        lambda found, on: run_audit(found, list(on), options),
    )
    if write:
        for change in result.changes:
            fsio.atomic_write_text(change.path, change.after)
    return result


def lock(
    files: Sequence[str | Path],
    *,
    hosts: Sequence[Host] | None = None,
    options: LockOptions | None = None,
    sources: SourceOptions = _ALL_SOURCES,
) -> LockResult:
    """Hash-pinned lockfiles of ``files`` for each host, steered by the knowledge base, written to
    ``options.output_dir`` (default options: ``LockOptions()``) as one set."""
    from envdoctor.lock import LockOptions, plan_locks, run_locks
    from envdoctor.lock.steering import SteeringError
    from envdoctor.requirements import load_requirement_set

    requirements = load_requirement_set([str(path) for path in files], sources)
    options = (options or LockOptions())._replace(selection=lock_selection(sources))
    named = _named(hosts)
    try:
        plans = plan_locks(requirements, named, options)
        written, failures = run_locks(requirements, plans, options)
    except SteeringError as exc:  # also a torch the resolution brought that no build of PyPI's runs
        return LockResult(requirements.inputs, tuple(named), refused=(str(exc),))
    targets = tuple((plan.host_name, plan.host) for plan in plans)
    return LockResult(requirements.inputs, targets, tuple(written), tuple(failures))


def check_locks(
    files: Sequence[str | Path],
    *,
    hosts: Sequence[Host] | None = None,
    options: LockOptions | None = None,
    sources: SourceOptions = _ALL_SOURCES,
    resolve: bool = False,
) -> LockCheck:
    """Why each lockfile in ``options.output_dir`` no longer matches ``files`` (none: all
    current). With ``resolve``, a fresh resolution must also agree with them."""
    from envdoctor.lock import LockOptions, plan_locks, stale_locks
    from envdoctor.lock.steering import SteeringError
    from envdoctor.requirements import load_requirement_set

    requirements = load_requirement_set([str(path) for path in files], sources)
    options = (options or LockOptions())._replace(selection=lock_selection(sources))
    named = _named(hosts)
    try:
        plans = plan_locks(requirements, named, options)
    except SteeringError as exc:
        return LockCheck(requirements.inputs, tuple(named), refused=(str(exc),))
    problems = stale_locks(plans, options.output_dir)
    if resolve and not problems:
        from envdoctor import console
        from envdoctor.lock.drift import drift

        with console.step(f"Resolving {len(plans)} target(s) again to compare with the lockfiles"):
            problems = drift(requirements, plans, options)
    return LockCheck(requirements.inputs, tuple((plan.host_name, plan.host) for plan in plans), tuple(problems))


def dockerfile(
    inputs: Sequence[str | Path],
    output_dir: str | Path,
    *,
    host: Host | None = None,
    options: ImageOptions | None = None,
) -> BuildContext:
    """A build context (Dockerfile, .dockerignore, build.sh, the lock) for an envdoctor lockfile,
    or for requirement files locked now for ``host``; judged for ``host`` when one is given."""
    from envdoctor.image.context import ImageOptions, write_build_context

    hosts = _named([host]) if host is not None else []
    return write_build_context([str(path) for path in inputs], hosts, Path(output_dir), options or ImageOptions())


def __getattr__(name: str) -> object:
    # The image and lock types, imported when first asked for: a lock never loads the image
    # planner, and an audit neither that nor the locker.
    if name in ("BuildContext", "ImageOptions"):
        from envdoctor.image import context

        return getattr(context, name)
    if name in ("LockFailure", "LockOptions"):
        from envdoctor import lock

        return getattr(lock, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _audit_options(ignore: frozenset[str], resolve: bool) -> AuditOptions:
    from envdoctor.audit.run import AuditOptions
    from envdoctor.config import checked_ignore

    resolver = None
    if resolve:
        from envdoctor.audit.resolver import resolve_for_host

        resolver = resolve_for_host
    return AuditOptions(ignore=checked_ignore(sorted(ignore), "ignore"), resolver=resolver)


class Captured(NamedTuple):
    """What ``capture`` wrote: the folder's inputs, its lockfiles, and its image (or why none)."""

    frozen: Frozen
    lock: LockResult
    image: BuildContext | None
    image_refused: tuple[str, ...]
    not_locked: tuple[str, ...]  # name==version installed but not in the lockfiles


def capture(
    output_dir: str | Path,
    *,
    python: str | None = None,
    host: HostProfile | None = None,
    index: IndexOptions | None = None,
) -> Captured:
    """Freeze the environment of ``python`` (default: this interpreter) into ``output_dir``: the host
    profile, requirements.in and constraints, lockfiles of exactly the versions installed, and a
    Dockerfile that rebuilds it for ``host`` (default: this machine). ``index``: where the versions
    come from again (default: PyPI)."""
    import sys

    from envdoctor.capture import freeze, not_locked
    from envdoctor.lock import LockOptions

    folder = Path(output_dir)
    frozen = freeze(python or sys.executable, host or probe(), folder, index or IndexOptions())
    named = ("host.json", frozen.host)
    result = lock([folder / "requirements.in"], hosts=[named], options=LockOptions(output_dir=folder / "lockfiles"))
    written = [path for path in result.written if path.name.startswith("requirements.")]
    image: BuildContext | None = None
    refused: tuple[str, ...] = ()
    if written:
        try:
            image = dockerfile([written[0]], folder / "image", host=named)
        except Refused as exc:
            refused = exc.reasons
    return Captured(frozen, result, image, refused, not_locked(frozen, result.written) if written else ())


def lock_selection(sources: SourceOptions) -> tuple[str, ...]:
    """What of the sources shapes the resolution beyond the files (kind, extras, groups), as the
    lock's digest records it."""
    return (
        sources.kind or "",
        *sorted(sources.extras),
        *sorted(sources.groups),
        # Only where given, so that a lock made without them keeps its digest.
        *(() if sources.default_groups else ("no-default-groups",)),
        *(f"no-group {name}" for name in sorted(sources.without_groups)),
    )


def _named(hosts: Sequence[Host] | None) -> list[tuple[str, HostProfile]]:
    """Each host with the name a report gives it; none: this machine."""
    if hosts is None:
        return [("this machine", probe())]
    named = []
    for number, host in enumerate(hosts, start=1):
        if isinstance(host, HostProfile):
            named.append((f"host {number}" if len(hosts) > 1 else "host", host))
        else:
            named.append(host)
    return named
