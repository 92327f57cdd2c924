"""A build context for a locked environment: the image plan, the Dockerfile, its .dockerignore,
build recipe and lockfiles, written as one output set (what ``envdoctor dockerfile`` and
``envdoctor.api.dockerfile`` do).

A context that could not work is refused (``Refused``, nothing written): the lock's builds do not
run on the target, no base image is known for what it needs, or a package built from source
needs what the lock does not pin.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from envdoctor import console
from envdoctor.errors import InputError, Refused, UsageError
from envdoctor.fsio import interrupted_write, output_folder, read_text_input, reading_output_set, write_output_set
from envdoctor.host.profile import HostProfile
from envdoctor.image import record_wheels
from envdoctor.image.placement import Placement, audit_lock, refuses
from envdoctor.image.plan import (
    BuilderPlan,
    ImagePlan,
    ImageRefused,
    devel_image,
    plan_builder,
    plan_image,
    python_image,
    split_lock,
)
from envdoctor.image.sources import (
    SourceBuild,
    SourceProblem,
    source_builds,
    unmet_build_requirements,
    without_wheels,
)
from envdoctor.image.writer import (
    LOCK_NAME,
    RECORD_SCRIPT,
    SOURCES_LOCK,
    WHEELS_LOCK,
    build_recipe,
    dockerfile,
    dockerignore,
)
from envdoctor.lock.model import Lock, LockedPackage, read_requirements_lock
from envdoctor.safety import printable

if TYPE_CHECKING:
    from packaging.pylock import Pylock

# Findings that mean the image could not work on the target: the generator refuses.
PLACEMENT = "placement.yaml"
DEFAULT_TAG = "envdoctor-env:latest"
_TAG = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_.-]{1,128})?$")


class ImageOptions(NamedTuple):
    base_image: str | None = None  # NAME[:TAG]@sha256:..., the user's own (mirrored) base
    builder_image: str | None = None  # the image that builds locked sdists into wheels
    wheelhouse: Path | None = None  # install from these files: the build needs no network
    tag: str = DEFAULT_TAG  # the image name build.sh gives
    python: str | None = None  # when the lockfile does not record its Python
    # Write placement.yaml: the node affinity and GPU request that land the image only on the
    # hosts' node classes that run it (the hosts are a cluster's classes).
    placement: bool = False


class BuildContext(NamedTuple):
    """What was written: the folder, its files, and what the image is made of."""

    output_dir: Path
    files: tuple[str, ...]
    plan: ImagePlan
    builder: BuilderPlan | None
    size: tuple[str, ...]  # the estimated size, and the same lock on a CUDA devel base
    placement: Placement | None = None


def write_build_context(
    inputs: Sequence[str], hosts: Sequence[tuple[str, HostProfile]], output_dir: Path, options: ImageOptions
) -> BuildContext:
    """The build context for ``inputs`` (an envdoctor lockfile, or requirement files locked now
    for the one target of ``hosts``), judged for ``hosts`` and written to ``output_dir``."""
    if not _TAG.fullmatch(options.tag):
        raise UsageError(f"--tag {options.tag!r}: expected an image name like envdoctor/app:1")
    lock_path, lock_text, beside = _lock(inputs, hosts, output_dir)
    pylock = beside.pylock if beside is not None else None
    distributions = read_requirements_lock(lock_text, lock_path)
    python = _python(options.python, lock_text, lock_path)
    refusal = [] if options.placement else _refusals(lock_path, hosts)
    if refusal:
        raise Refused(refusal)
    try:
        plan = plan_image(distributions, python, options.base_image)
        builds = _source_builds(pylock, options.wheelhouse)
        _check_locked(builds, distributions, lock_path)
        unmet = _unmet_build_requirements(builds, distributions, python)
        if unmet:
            raise Refused(unmet)
        builder = plan_builder(plan, builds, options.builder_image) if builds else None
    except (ImageRefused, SourceProblem) as exc:
        raise Refused([str(exc)]) from None
    digest = "sha256:" + hashlib.sha256(lock_text.encode()).hexdigest()
    wheelhouse, wheel_files = _wheelhouse(options.wheelhouse, output_dir, distributions, builder)
    texts = {LOCK_NAME: lock_text}
    if builder is not None:
        wheels_lock, sources_lock = split_lock(lock_text, builder.names)
        texts |= {WHEELS_LOCK: wheels_lock, SOURCES_LOCK: sources_lock}
        texts[RECORD_SCRIPT] = Path(record_wheels.__file__).read_text(encoding="utf-8")
    texts["Dockerfile"] = dockerfile(plan, digest, wheelhouse, builder)
    placement = _placement(lock_path, plan, python, hosts) if options.placement else None
    if placement is not None:
        texts[PLACEMENT] = placement.text
    texts[".dockerignore"] = dockerignore(builder is not None)
    texts["build.sh"] = build_recipe(options.tag)
    # The build context is one output set: a kill never leaves a Dockerfile beside a lock (or a
    # wheelhouse) other than the one its label names.
    with console.step(f"Writing the build context to {printable(str(output_dir))}"):
        copies = {"wheelhouse": wheel_files} if wheel_files else None
        write_output_set(output_dir, texts, executable={"build.sh"}, copies=copies)
    return BuildContext(output_dir, tuple(sorted(texts)), plan, builder, tuple(_size_report(plan, pylock)), placement)


def _placement(lock_path: str, plan: ImagePlan, python: str, hosts: Sequence[tuple[str, HostProfile]]) -> Placement:
    from envdoctor.image.placement import place

    if not hosts or not all(profile.nodes for _, profile in hosts):
        raise UsageError("--k8s places the image on a cluster's node classes: give --host with a fleet file")
    arch = {profile.arch for _, profile in hosts if profile.arch in ("x86_64", "aarch64")}
    if len(arch) != 1:
        raise UsageError("--k8s: the node classes are of several architectures; an image is built for one")
    return place(lock_path, plan.cuda, arch.pop(), python, hosts)


def _source_builds(pylock: Pylock | None, wheelhouse: Path | None) -> list[SourceBuild]:
    """The packages the lock builds from their sdists, each sdist fetched (or read from the wheelhouse) and read."""
    if pylock is None:
        return []
    count = len(without_wheels(pylock.packages))
    if not count:
        return []
    where = (
        f"Reading {count} sdist(s) from {printable(str(wheelhouse))}" if wheelhouse else f"Fetching {count} sdist(s)"
    )
    with console.step(f"{where} to build in the image"):
        return source_builds(pylock.packages, wheelhouse)


def _check_locked(builds: list[SourceBuild], distributions: Sequence[LockedPackage], lock_path: str) -> None:
    """Each package the pylock says to build is pinned, as that version, by the requirements lock
    (whose names and versions were checked): the two files were written together."""
    from packaging.version import Version

    locked = {(dist.name, Version(dist.version)) for dist in distributions}
    for build in builds:
        if (build.name, Version(build.version)) not in locked:
            raise InputError(
                lock_path, f"the pylock beside it builds {build.name} {build.version}, which it does not pin"
            )


def _unmet_build_requirements(
    builds: list[SourceBuild], distributions: Sequence[LockedPackage], python: str
) -> list[str]:
    """The wheels stage installs build requirements from the lock, hash-checked: each must be there."""
    locked = {dist.name: dist.version for dist in distributions}
    lines = []
    for build in builds:
        unmet = unmet_build_requirements(build, locked, python)
        if unmet:
            lines.append(
                f"{build.name} {build.version} is built from its sdist in the image, and its build needs "
                f"{', '.join(unmet)}, which the lock does not pin: add them to the requirements and lock again "
                "(the wheels stage installs build requirements from the lock, hash-checked)"
            )
    return lines


def _lock(
    inputs: Sequence[str], hosts: Sequence[tuple[str, HostProfile]], output_dir: Path
) -> tuple[str, str, Lock | None]:
    """The lockfile to build from, and the pylock beside it: the one given, or one made now from
    the requirement files."""
    from envdoctor.lock.render import LOCK_MARK

    if len(inputs) == 1:
        # The lock and the pylock beside it are read under the folder's shared lock: a `lock`
        # writing there now cannot move a new set into place between the two reads.
        with reading_output_set(Path(inputs[0]).parent):
            text = read_text_input(inputs[0])
            if text.startswith(LOCK_MARK):
                interrupted = interrupted_write(Path(inputs[0]).parent) if inputs[0] != "-" else None
                if interrupted is not None:
                    raise InputError(
                        inputs[0], f"a write of its folder was interrupted ({interrupted}): run envdoctor lock again"
                    )
                return inputs[0], text, _pylock_beside(inputs[0])
    from envdoctor.lock import LockOptions, plan_locks, run_locks
    from envdoctor.requirements import SourceOptions, load_requirement_set

    requirements = load_requirement_set(list(inputs), SourceOptions())
    if len(hosts) != 1:
        raise UsageError("one target for a Dockerfile: give one --host (or host flags)")
    # The lockfiles go into the build context's own lockfiles/ folder.
    options = LockOptions(output_dir=output_folder(output_dir, create=True) / "lockfiles")
    written, failures = run_locks(requirements, plan_locks(requirements, list(hosts), options), options)
    if failures:
        raise UsageError("the requirements do not resolve for this target: run envdoctor lock to see why")
    path = str(next(p for p in written if p.name.startswith("requirements.")))
    return path, Path(path).read_text(encoding="utf-8"), _pylock_beside(path)


def _python(given: str | None, lock_text: str, lock_path: str) -> str:
    from envdoctor.lock.render import recorded_python

    recorded = recorded_python(lock_text)
    if recorded:
        return recorded
    if given:
        return ".".join(given.split(".")[:2])
    raise InputError(lock_path, "the lockfile does not say its Python; give --python")


def _refusals(lock_path: str, hosts: Sequence[tuple[str, HostProfile]]) -> list[str]:
    if not hosts:
        return []
    return [
        f"{finding.code} ({finding.category}): {finding.message}" + (f"; fix: {finding.fix}" if finding.fix else "")
        for finding in audit_lock(lock_path, hosts).findings
        if refuses(finding)
    ]


def _wheelhouse(
    source: Path | None, out: Path, distributions: Sequence[LockedPackage], builder: BuilderPlan | None
) -> tuple[bool, list[Path]]:
    """Whether the build installs from a wheelhouse, and the files to copy into out/wheelhouse
    (none when that is the wheelhouse given)."""
    if source is None:
        return False, []
    wheels = sorted(source.glob("*.whl")) if source.is_dir() else []
    # The sdists of packages built from source were found and hash-checked by source_builds.
    archives = [source / build.archive for build in builder.builds] if builder else []
    if not wheels and not archives:
        raise InputError(str(source), "--wheelhouse must be a folder of wheels")
    built = builder.names if builder else frozenset()
    missing = _not_in_wheelhouse([dist for dist in distributions if dist.name not in built], wheels)
    if missing:
        raise InputError(str(source), f"no wheel for {', '.join(missing)}: the build installs from this folder alone")
    if source.resolve() == (out / "wheelhouse").resolve():
        return True, []
    return True, wheels + archives


def _not_in_wheelhouse(distributions: Sequence[LockedPackage], wheels: list[Path]) -> list[str]:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    from packaging.version import Version

    present = set()
    for wheel in wheels:
        try:
            name, version, _, _ = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        present.add((name, version))
    # read_requirements_lock has already normalised the locked names.
    return [
        f"{locked.name}=={locked.version}"
        for locked in distributions
        if (locked.name, Version(locked.version)) not in present
    ]


def _size_report(plan: ImagePlan, pylock: Pylock | None) -> list[str]:
    """The image's estimated size beside the same lock on a CUDA devel base, from known sizes."""
    if pylock is None:
        return ["estimated size: unknown (no pylock beside the lockfile to read wheel sizes from)"]
    wheels = sum(wheel.size or 0 for package in pylock.packages for wheel in package.wheels or ())
    wheel_mb = round(wheels / 1e6)
    bases = [plan.base] + ([plan.python_image] if plan.python_image else [])
    base_sizes = [image.size_mb for image in bases]
    if None in base_sizes:
        lines = [f"estimated size: locked wheels {wheel_mb:,} MB + a base of unknown size (compressed)"]
    else:
        base_mb = sum(size or 0 for size in base_sizes)
        lines = [
            f"estimated size: {base_mb + wheel_mb:,} MB (base {base_mb} MB + locked wheels {wheel_mb:,} MB, compressed)"
        ]
    devel = devel_image(plan.cuda) if plan.cuda else None
    if devel is not None and devel.size_mb:
        # A devel image carries no Python either: the comparison adds the same interpreter.
        python_mb = python_image(plan.python).size_mb or 0
        total = f"about {devel.size_mb + python_mb + wheel_mb:,} MB"
        if devel.why == "devel":
            lines.append(f"the same lock on {devel.name}: {total}")
        else:
            lines.append(
                f"the same lock on a CUDA {plan.cuda} devel base: {total} (sized as {devel.name}, {devel.why})"
            )
    elif plan.cuda:
        lines.append(f"the size of a CUDA {plan.cuda} devel base is not in the knowledge base: no comparison")
    return lines


def _pylock_beside(lock_path: str) -> Lock | None:
    """The pylock `envdoctor lock` wrote beside the requirements lock: it lists each file."""
    lock = Path(lock_path)
    path = lock.with_name(lock.name.replace("requirements.", "pylock.", 1).removesuffix(".txt") + ".toml")
    if path == lock or not path.is_file():
        return None
    return Lock.read(read_text_input(str(path)), str(path))
