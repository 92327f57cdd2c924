"""ED900 not-judged: GPU packages the base knows no release of, unpinned, so their build cannot be
judged offline. One finding per host, listing them: the reason is the same for each."""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.version import Version

from envdoctor.findings import Finding
from envdoctor.kb import builds, facts, releases
from envdoctor.requirements.model import Form
from envdoctor.rules.context import AuditContext


def check(ctx: AuditContext) -> Iterator[Finding]:
    yield from _unread(ctx)
    if ctx.resolved or ctx.resolver_error:
        return
    unknown = [
        requirement
        for requirement in ctx.wanted()
        if requirement.form is Form.NAMED
        and requirement.required_by is None
        and builds.is_gpu_package(requirement.name or "")
        and ctx.version_of(requirement.name or "") is None
        and not ctx.candidates(requirement.name or "").excluded
    ]
    yield from _unknown_builds(ctx)
    yield from _unjudged_pins(ctx)
    yield from _carried_by_the_image(ctx)
    if not unknown:
        return
    names = ", ".join(r.describe() for r in unknown)
    yield ctx.finding(
        "ED900",
        f"the knowledge base knows no release of {names} and {'it is' if len(unknown) == 1 else 'they are'} not "
        "pinned: which build is installed, and whether it runs on the host, cannot be judged offline",
        requirement=unknown[0],
        packages=tuple(r.describe() for r in unknown),
        fix="pin them, or run envdoctor audit --resolve to judge the versions the installer would pick",
    )


def _unknown_builds(ctx: AuditContext) -> Iterator[Finding]:
    """Releases the base knows whose build from the index in use it cannot tell."""
    from envdoctor.rules.stack import package_build

    unknown = [
        build
        for requirement in ctx.wanted()
        if requirement.required_by is None
        and (build := package_build(ctx, requirement.name or "")) is not None
        and build.build.unknown
    ]
    if not unknown:
        return
    names = ", ".join(f"{b.build.package} {b.build.version}" for b in unknown)
    yield ctx.finding(
        "ED900",
        f"which build of {names} is installed cannot be told: it comes from {unknown[0].how}, so its CUDA is not "
        "judged",
        requirement=unknown[0].requirement,
        packages=tuple(b.requirement.describe() for b in unknown),
        fix="pin a release the knowledge base knows (envdoctor kb show torch), or run envdoctor audit --resolve",
    )


# A local label that names a CUDA build: +cu121, +cuda12.cudnn89, PyG's +pt23cu121.
_CUDA_LABEL = re.compile(r"(?:^|[._]|pt\d+)cu(?:da)?\d+")


def _unjudged_pins(ctx: AuditContext) -> Iterator[Finding]:
    """Exact pins of GPU builds the base has no build rows for: a GPU package's release older than
    its rows (tensorflow 2.6.0), or a CUDA-labelled wheel of a package it does not model
    (jaxlib 0.4.23+cuda12.cudnn89, torch-scatter 2.1.2+pt23cu121). Whether they run on the host
    is not judged, and saying nothing would read as "runs"."""
    from envdoctor.rules.stack import package_build

    nvidia = ctx.host.driver
    if nvidia is None or nvidia.driver is None:
        return  # no driver to judge a build against (a Mac, --no-gpu) or an unknown one (its own note)
    pinned = [
        (requirement, version)
        for requirement in ctx.wanted()
        if requirement.required_by is None
        and requirement.name is not None
        and (version := ctx.exact_version(requirement.name)) is not None
    ]
    # A companion's +cu121 label (torchvision beside torch) is judged through the package it moves with.
    companions = {
        step.companion for requirement, version in pinned for step in facts.lockstep(requirement.name or "", version)
    }
    unjudged = [
        (requirement, version)
        for requirement, version in pinned
        if _names_a_gpu_build(ctx, requirement.name or "", version)
        and not (requirement.name in companions and builds.is_variant_label(version.local))
        and package_build(ctx, requirement.name or "", version) is None
    ]
    if not unjudged:
        return
    names = ", ".join(f"{requirement.name} {version}" for requirement, version in unjudged)
    yield ctx.finding(
        "ED900",
        f"the knowledge base has no build row for {names}: whether {_runs(len(unjudged))} on the host is not judged",
        requirement=unjudged[0][0],
        packages=tuple(requirement.describe() for requirement, _ in unjudged),
        fix="check the build's CUDA and GPU support by hand, or move to releases the knowledge base knows "
        "(envdoctor kb show)",
    )


def _runs(count: int) -> str:
    if count == 1:
        return "it runs (its CUDA against the driver, its kernels against the GPUs)"
    return "they run (their CUDA against the driver, their kernels against the GPUs)"


def _names_a_gpu_build(ctx: AuditContext, name: str, version: Version) -> bool:
    """A CUDA-labelled wheel, or a release of a package whose newest release the base knows a build
    of (tensorflow 2.6.0 beside rows from 2.10 on; not jax, whose builds are its jaxlib's)."""
    if version.local and _CUDA_LABEL.search(version.local):
        return True
    known = releases.releases(name)
    if not known or not builds.has_builds(name):
        return False  # nearly every package of a large set: no build to read of any release
    return builds.build_of(name, known[-1].version, ctx.where_of(ctx.find(name))) is not None


def _unread(ctx: AuditContext) -> Iterator[Finding]:
    """What an input holds that could not be read (a Dockerfile's variable without a value): the
    audit goes on without it, and says so once for each place."""
    for why, location in ctx.requirements.unread:
        yield ctx.finding(
            "ED900",
            f"not read: {why}; what it installs is not judged",
            location=location,
            fix="judge it by hand; what envdoctor can read it judges (a variable needs its value where envdoctor "
            "runs, an ARG its default)",
        )


def _carried_by_the_image(ctx: AuditContext) -> Iterator[Finding]:
    """GPU packages that the Dockerfile's packages pull in, on a base image the base knows
    nothing of: it may carry them already, and pip keeps what satisfies the requirement."""
    if not ctx.image_may_carry():
        return
    # What the Dockerfile's own packages pull in, not what those pull in further down (torch, not its nvidia-* wheels).
    pulled = [
        r
        for r in ctx.wanted()
        if r.required_by is not None and " via " not in r.required_by and builds.is_gpu_package(r.name or "")
    ]
    if not pulled:
        return
    base = ctx.requirements.final_base()
    assert base is not None
    names = ", ".join(dict.fromkeys(str(r.name) for r in pulled))
    yield ctx.finding(
        "ED900",
        f"the base image {base.reference} may already carry {names}, which the Dockerfile's packages pull in: "
        "which build is installed is not judged",
        requirement=pulled[0],
        packages=tuple(dict.fromkeys(r.describe() for r in pulled)),
        fix="install the GPU packages with explicit pins in the Dockerfile, or audit on a base image the knowledge "
        "base knows (envdoctor kb show base_images)",
    )
