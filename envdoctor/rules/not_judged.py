"""ED900 not-judged: GPU packages the base knows no release of, unpinned, so their build cannot be
judged offline. One finding per host, listing them: the reason is the same for each."""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.findings import Finding
from envdoctor.kb import builds
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
