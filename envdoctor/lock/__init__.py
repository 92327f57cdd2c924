"""Lock a requirement set for each target: steer, resolve, write, or check what was written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from packaging.version import InvalidVersion, Version

from envdoctor import console
from envdoctor.errors import InputError
from envdoctor.findings import Finding
from envdoctor.fsio import (
    interrupted_write,
    read_input_bytes,
    read_text_input,
    reading_output_set,
    write_output_set,
)
from envdoctor.host.profile import HostProfile
from envdoctor.lock.backends import LockRequest, backend
from envdoctor.lock.model import LockedPackage
from envdoctor.lock.render import header, recorded_digest, requirements_lock
from envdoctor.lock.steering import PYTORCH_INDEX, Steering, steer, steer_resolved
from envdoctor.requirements.model import RequirementSet
from envdoctor.resolve.target import Target, target_of
from envdoctor.safety import printable

DIGEST_VERSION = "envdoctor-lock/1"


class LockOptions(NamedTuple):
    output_dir: Path = Path("lockfiles")
    backend: str = "uv"
    exclude_newer: str | None = None
    upgrade: tuple[str, ...] = ()
    pytorch_index: str = PYTORCH_INDEX
    # What else shapes the resolution and so belongs in the digest (extras, groups, kind).
    selection: tuple[str, ...] = ()


def default_inputs() -> list[str]:
    """What `envdoctor lock` locks when no file is named: the first of the usual files here."""
    from envdoctor.errors import UsageError

    for name in ("requirements.in", "requirements.txt", "pyproject.toml"):
        if Path(name).is_file():
            return [name]
    raise UsageError("nothing to lock: name requirement files")


class LockPlan(NamedTuple):
    """One target's lock before resolution: where it goes and what it depends on."""

    host_name: str
    host: HostProfile
    target: Target
    steering: Steering
    digest: str
    name: str
    description: str

    def requirements_path(self, folder: Path) -> Path:
        return folder / f"requirements.{self.name}.txt"

    def pylock_path(self, folder: Path) -> Path:
        return folder / f"pylock.{self.name}.toml"


class LockFailure(NamedTuple):
    plan: LockPlan
    findings: tuple[Finding, ...]


def describe_target(host: HostProfile, target: Target) -> str:
    return "; ".join([_platform_words(target), *_host_words(host)])


def _platform_words(target: Target) -> str:
    return f"{target.os} {target.arch}, Python {target.python} ({target.platform})"


def _host_words(host: HostProfile) -> list[str]:
    nvidia = host.driver
    if nvidia is not None and nvidia.driver:
        capabilities = sorted({g.compute_capability for g in nvidia.gpus or () if g.compute_capability})
        gpus = f", GPUs {' '.join(capabilities)}" if capabilities else ""
        return [f"NVIDIA driver {nvidia.driver}{gpus}"]
    if host.nvidia is not None:
        return ["no NVIDIA GPU"]
    return []


def plan_locks(
    requirements: RequirementSet, hosts: list[tuple[str, HostProfile]], options: LockOptions
) -> list[LockPlan]:
    """One plan per lockfile: hosts that get the same lock (a cluster's node classes on one build)
    share one, whose header names them; hosts whose locks differ under one name get names of their own."""
    steered: dict[str, list[tuple[str, HostProfile, Target, Steering]]] = {}
    for host_name, host in hosts:
        target = target_of(host, host_name)
        steering = steer(requirements, host, target.python, options.pytorch_index)
        name = target.slug + (f"-{steering.torch_index.variant}" if steering.torch_index else "")
        steered.setdefault(name, []).append((host_name, host, target, steering))
    plans = []
    for name, group in steered.items():
        host_name, host, target, steering = group[0]
        # One resolution when what steers it is the same; the notes (each host's own words) all kept.
        if all((other[2], other[3]._replace(notes=())) == (target, steering._replace(notes=())) for other in group):
            steering = steering._replace(notes=tuple(dict.fromkeys(note for *_, s in group for note in s.notes)))
            description = _shared_description(target, [(n, h) for n, h, _, _ in group])
            digest = _digest(requirements, options, description, steering)
            plans.append(LockPlan(host_name, host, target, steering, digest, name, description))
            continue
        for number, (host_name, host, target, steering) in enumerate(group, start=1):
            own = f"{name}-{host_name}" if host.nodes else (name if number == 1 else f"{name}-{number}")
            description = _shared_description(target, [(host_name, host)])
            digest = _digest(requirements, options, description, steering)
            plans.append(LockPlan(host_name, host, target, steering, digest, own, description))
    return plans


def _shared_description(target: Target, hosts: list[tuple[str, HostProfile]]) -> str:
    """The target line of a lock for these hosts: the platform, then each host's driver and GPUs, a
    node class by its name ("node classes a16-4q-r550 (NVIDIA driver 550.90.07, GPUs 8.6), ...")."""
    if len(hosts) == 1 and not hosts[0][1].nodes:
        return describe_target(hosts[0][1], target)
    classes = [name for name, host in hosts if host.nodes]
    if len(classes) == len(hosts):
        said = [f"{name} ({', '.join(_host_words(host)) or 'no GPU facts'})" for name, host in hosts]
        return f"{_platform_words(target)}; node class{'es' if len(said) > 1 else ''} {', '.join(said)}"
    # Profiles of several machines that lock alike: what each has, without their file names.
    words = sorted({", ".join(_host_words(host)) or "no GPU facts" for _, host in hosts})
    return "; ".join([_platform_words(target), *words])


def _digest(requirements: RequirementSet, options: LockOptions, description: str, steering: Steering) -> str:
    """What the lock depends on: the inputs' bytes, the options, the target and the steering."""
    hasher = hashlib.sha256(DIGEST_VERSION.encode())
    for item in requirements.inputs:
        hasher.update(f"\0{item.kind}\0{recorded_input(item.path, options.output_dir)}\0".encode())
        if not item.path.startswith("<"):
            hasher.update(read_input_bytes(item.path))
    facts = [options.backend, options.exclude_newer or "", options.pytorch_index, *options.selection, description]
    facts += [f"{c.requirement}|{c.reason}" for c in steering.constraints]
    if steering.torch_index is not None:
        facts.append("|".join([steering.torch_index.url, *steering.torch_index.packages]))
    facts += [f"{old}|{new}" for old, new, _ in steering.rewrites]
    # Only where there are any, so that a lock without them keeps its digest.
    facts += [f"note|{note}" for note in steering.notes] + [f"added|{text}" for text in steering.added]
    hasher.update("\0".join(facts).encode())
    return f"sha256:{hasher.hexdigest()}"


def recorded_input(path: str, output_dir: Path) -> str:
    """An input as the lockfiles record it: relative to their folder, normalised, so that the
    same project gives the same bytes whatever folder or spelling (./x, an absolute path) it was
    locked from."""
    if path == "-":
        return "<stdin>"
    if path.startswith("<"):
        return path
    return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(output_dir))).as_posix()


def run_locks(
    requirements: RequirementSet, plans: list[LockPlan], options: LockOptions
) -> tuple[list[Path], list[LockFailure]]:
    """Resolve every target; write the lockfiles only if every target resolved."""
    resolver = backend(options.backend)
    written: list[tuple[Path, str]] = []
    failures: list[LockFailure] = []
    inputs = [recorded_input(item.path, options.output_dir) for item in requirements.inputs]
    described = ", ".join(printable(item.path) for item in requirements.inputs) or "the requirements"
    for plan in plans:
        previous = plan.pylock_path(options.output_dir)
        request = LockRequest(
            requirements,
            plan.target,
            plan.steering,
            options.exclude_newer,
            options.upgrade,
            _previous(previous),
        )
        doing = f"Locking {described} for target {printable(plan.name)} ({plan.description}) with {options.backend}"
        with console.step(doing):
            resolved = resolver.resolve(request)
        if resolved.lock is None:
            failures.append(LockFailure(plan, _unsatisfiable(requirements, plan, resolved.error or "")))
            continue
        packages = resolved.lock.packages
        steering = _after_resolution(requirements, plan, packages, options)
        head = header(
            plan.digest,
            inputs,
            plan.description,
            steering,
            resolver=_resolver(options.backend),
            exclude_newer=options.exclude_newer,
        )
        written.append(
            (
                plan.requirements_path(options.output_dir),
                requirements_lock(head, packages, requirements.indexes, steering),
            )
        )
        lock = resolved.lock.with_local_paths(options.output_dir, _local_locations(requirements, plan))
        written.append((plan.pylock_path(options.output_dir), lock.with_header(head).text()))
    if failures:
        return [], failures
    # Every target's two files are one output set: a kill leaves all of them old or all new.
    write_output_set(options.output_dir, {path.name: text for path, text in written})
    return [path for path, _ in written], []


def _after_resolution(
    requirements: RequirementSet, plan: LockPlan, packages: tuple[LockedPackage, ...], options: LockOptions
) -> Steering:
    """The steering as the header tells it: with what a torch no input names, and that the
    steering did not see coming, means for the target (the digest is the plan's: a lock that
    resolves again the same way gets the same header)."""
    torch = next((p for p in packages if p.name == "torch"), None)
    if torch is None or any(r.name == "torch" for r in requirements.named()):
        return plan.steering
    try:
        version = Version(torch.version)
    except InvalidVersion:
        return plan.steering
    return steer_resolved(plan.steering, plan.host, version, options.pytorch_index)


def _previous(path: Path) -> str | None:
    """The pylock being replaced, as the resolver's preference; one that cannot be read as text
    (not UTF-8, not a file) is no preference, since it is about to be written anew."""
    if not path.is_file():
        return None
    try:
        return read_text_input(str(path))
    except InputError:
        return None


def _local_locations(requirements: RequirementSet, plan: LockPlan) -> list[str]:
    """The local folders files may come from, as the inputs name them."""
    locations = list(requirements.indexes.find_links)
    if plan.steering.torch_index is not None and not plan.steering.torch_index.url.startswith("http"):
        locations.append(plan.steering.torch_index.url)
    return locations


def _resolver(backend: str) -> str:
    # The version from the name of the metadata folder beside the resolver's package: listing
    # every folder of sys.path, or importlib.metadata's scan, costs a noticeable part of a lock.
    import importlib.util

    module, distribution = ("uv", "uv") if backend == "uv" else ("piptools", "pip_tools")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return backend
    prefix = f"{distribution}-"
    for entry in sorted(os.listdir(Path(spec.origin).parent.parent)):
        if entry.startswith(prefix) and entry.endswith(".dist-info"):
            return f"{backend} {entry.removeprefix(prefix).removesuffix('.dist-info')}"
    return backend


def _unsatisfiable(requirements: RequirementSet, plan: LockPlan, error: str) -> tuple[Finding, ...]:
    """The resolver's failure as the audit reports it (ED204), shown at the first input."""
    from envdoctor.codes import doc
    from envdoctor.requirements.model import Location
    from envdoctor.resolve.explain import unsatisfiable

    said = unsatisfiable(error)
    entry = doc("ED204")
    first = next((item.path for item in requirements.inputs if not item.path.startswith("<")), None)
    return (
        Finding(
            code="ED204",
            category=entry.category,
            severity=entry.severity,
            message=said.message,
            packages=said.packages,
            location=Location(first, 1) if first else None,
            fix=said.fix,
            host=plan.host_name,
        ),
    )


def stale_locks(plans: list[LockPlan], folder: Path) -> list[str]:
    """Why each lockfile no longer matches its inputs (fast: nothing is resolved)."""
    with reading_output_set(folder):
        interrupted = interrupted_write(folder)
        if interrupted is not None:
            # Its files may be part old, part new: the next `envdoctor lock` finishes that write.
            return [f"{interrupted}: a write of these lockfiles was interrupted; they may not belong together"]
        return [problem for plan in plans for problem in _stale(plan, folder)]


def _stale(plan: LockPlan, folder: Path) -> list[str]:
    problems = []
    for path in (plan.requirements_path(folder), plan.pylock_path(folder)):
        if not path.is_file():
            problems.append(f"{path}: missing (target {plan.description})")
            continue
        try:
            recorded = recorded_digest(read_text_input(str(path)))
        except InputError as exc:
            problems.append(f"{exc} (target {plan.description})")
            continue
        if recorded != plan.digest:
            problems.append(f"{path}: made from other inputs, options or knowledge ({recorded or 'no digest'})")
    return problems
