"""``envdoctor dockerfile``: a slim, digest-pinned, hash-locked image for a locked environment."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor import console
from envdoctor.console import Style, use_color
from envdoctor.errors import InputError, UsageError
from envdoctor.fsio import interrupted_write, output_folder, read_text_input, reading_output_set, write_output_set
from envdoctor.host.profile import HostProfile
from envdoctor.image import record_wheels
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
from envdoctor.safety import json_text, printable

if TYPE_CHECKING:
    from packaging.pylock import Pylock

_TAG = re.compile(r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[A-Za-z0-9_.-]{1,128})?$")
# Findings that mean the image could not work on the target: the generator refuses.
REFUSING = frozenset({"driver-too-old", "gpu-arch-unsupported", "cuda-mismatch", "platform-unsupported"})


def run(args: argparse.Namespace) -> int:
    style = Style(use_color(args.color, sys.stdout))
    if args.tag and not _TAG.fullmatch(args.tag):
        raise UsageError(f"--tag {args.tag!r}: expected an image name like envdoctor/app:1")
    hosts = _hosts(args)
    lock_path, lock_text, beside = _lock(args, hosts)
    pylock = beside.pylock if beside is not None else None
    distributions = read_requirements_lock(lock_text, lock_path)
    python = _python(args, lock_text, lock_path)
    refusal = _refusals(lock_path, hosts)
    if refusal:
        return _refused(args, style, refusal)
    wheelhouse_dir = Path(args.wheelhouse) if args.wheelhouse else None
    try:
        plan = plan_image(distributions, python, args.base_image)
        builds = _source_builds(pylock, wheelhouse_dir)
        _check_locked(builds, distributions, lock_path)
        unmet = _unmet_build_requirements(builds, distributions, python)
        if unmet:
            return _refused(args, style, unmet)
        builder = plan_builder(plan, builds, args.builder_image) if builds else None
    except (ImageRefused, SourceProblem) as exc:
        return _refused(args, style, [str(exc)])
    out = Path(args.output_dir)
    digest = "sha256:" + hashlib.sha256(lock_text.encode()).hexdigest()
    wheelhouse, wheel_files = _wheelhouse(wheelhouse_dir, out, distributions, builder)
    texts = {LOCK_NAME: lock_text}
    if builder is not None:
        wheels_lock, sources_lock = split_lock(lock_text, builder.names)
        texts |= {WHEELS_LOCK: wheels_lock, SOURCES_LOCK: sources_lock}
        texts[RECORD_SCRIPT] = Path(record_wheels.__file__).read_text(encoding="utf-8")
    texts["Dockerfile"] = dockerfile(plan, digest, wheelhouse, builder)
    texts[".dockerignore"] = dockerignore(builder is not None)
    texts["build.sh"] = build_recipe(args.tag or "envdoctor-env:latest")
    # The build context is one output set: a kill never leaves a Dockerfile beside a lock (or a
    # wheelhouse) other than the one its label names.
    with console.step(f"Writing the build context to {printable(str(out))}"):
        copies = {"wheelhouse": wheel_files} if wheel_files else None
        write_output_set(out, texts, executable={"build.sh"}, copies=copies)
    if args.format == "json":
        document = {
            "schema": "envdoctor.dockerfile/1",
            "output_dir": printable(str(out)),
            "files": sorted(printable(name) for name in texts),
            "base_image": plan.base.name,
            "builder_image": builder.image.name if builder is not None else None,
            "built_from_source": sorted(builder.names) if builder is not None else [],
            "size": _size_report(plan, pylock),
            "refused": [],
        }
        sys.stdout.write(json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n")
        return 0
    print(f"wrote {printable(str(out / 'Dockerfile'))} (base {plan.base.name})")
    if builder is not None:
        print(f"built from source in a wheels stage on {builder.image.name}: {', '.join(sorted(builder.names))}")
    for line in _size_report(plan, pylock):
        print(line)
    return 0


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


def _refused(args: argparse.Namespace, style: Style, lines: list[str]) -> int:
    if args.format == "json":
        document = {"schema": "envdoctor.dockerfile/1", "files": [], "refused": [printable(line) for line in lines]}
        sys.stdout.write(json_text(json.dumps(document, indent=2, ensure_ascii=False)) + "\n")
        return 1
    for line in lines:
        print(f"{style('refused', 'red', 'bold')}: {printable(line)}")
    return 1


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


def _lock(args: argparse.Namespace, hosts: list[tuple[str, HostProfile]]) -> tuple[str, str, Lock | None]:
    """The lockfile to build from, and the pylock beside it: the one given, or one made now from
    the requirement files."""
    from envdoctor.lock.render import LOCK_MARK

    if len(args.inputs) == 1:
        # The lock and the pylock beside it are read under the folder's shared lock: a `lock`
        # writing there now cannot move a new set into place between the two reads.
        with reading_output_set(Path(args.inputs[0]).parent):
            text = read_text_input(args.inputs[0])
            if text.startswith(LOCK_MARK):
                interrupted = interrupted_write(Path(args.inputs[0]).parent) if args.inputs[0] != "-" else None
                if interrupted is not None:
                    raise InputError(
                        args.inputs[0],
                        f"a write of its folder was interrupted ({interrupted}): run envdoctor lock again",
                    )
                return args.inputs[0], text, _pylock_beside(args.inputs[0])
    from envdoctor.lock import LockOptions, plan_locks, run_locks
    from envdoctor.requirements import SourceOptions, load_requirement_set

    requirements = load_requirement_set(list(args.inputs), SourceOptions())
    if len(hosts) != 1:
        raise UsageError("one target for a Dockerfile: give one --host (or host flags)")
    # The lockfiles go into the build context's own lockfiles/ folder.
    options = LockOptions(output_dir=output_folder(Path(args.output_dir), create=True) / "lockfiles")
    written, failures = run_locks(requirements, plan_locks(requirements, hosts, options), options)
    if failures:
        raise UsageError("the requirements do not resolve for this target: run envdoctor lock to see why")
    path = str(next(p for p in written if p.name.startswith("requirements.")))
    return path, Path(path).read_text(encoding="utf-8"), _pylock_beside(path)


def _python(args: argparse.Namespace, lock_text: str, lock_path: str) -> str:
    from envdoctor.lock.render import recorded_python

    recorded = recorded_python(lock_text)
    if recorded:
        return recorded
    if args.python:
        return ".".join(args.python.split(".")[:2])
    raise InputError(lock_path, "the lockfile does not say its Python; give --python")


def _hosts(args: argparse.Namespace) -> list[tuple[str, HostProfile]]:
    from envdoctor.host.select import hosts_from_args

    # Without a target, the image is judged for no host in particular: this machine is not probed.
    return hosts_from_args(args, (), this_machine=False)


def _refusals(lock_path: str, hosts: list[tuple[str, HostProfile]]) -> list[str]:
    if not hosts:
        return []
    from envdoctor.audit.run import AuditOptions, run_audit
    from envdoctor.requirements import SourceOptions, load_requirement_set

    requirements = load_requirement_set([lock_path], SourceOptions(kind="requirements"))
    report = run_audit(requirements, hosts, AuditOptions())
    return [
        f"{finding.code} ({finding.category}): {finding.message}" + (f"; fix: {finding.fix}" if finding.fix else "")
        for finding in report.findings
        if finding.category in REFUSING and finding.severity.label == "error"
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
