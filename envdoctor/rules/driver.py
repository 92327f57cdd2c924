"""ED101 driver-too-old: a CUDA build needs a newer NVIDIA driver than the host has."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import Nvidia
from envdoctor.kb import builds, facts
from envdoctor.kb.check import major_minor
from envdoctor.requirements.model import BaseImage
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import CudaClaim, cuda_claims, package_build, runnable, system_cuda_claims

if TYPE_CHECKING:
    from envdoctor.requirements.image_inspect import InspectedImage

CODE = "ED101"
_CUDA = re.compile(r"\d+\.\d+")


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    if nvidia is None or ctx.host.wsl == 1:
        return  # WSL 1 reaches no GPU whatever its driver (ED103 says so): no driver to upgrade
    packages = list(_packages(ctx, nvidia))
    # An image's own torch that needs a newer driver (an error) says what the image's hedged
    # forward-compatibility warning would, on the same FROM line: one finding, not two severities.
    told = {f.location for f in packages if f.severity is Severity.ERROR}
    yield from (
        f for f in _base_image(ctx, nvidia.driver) if not (f.severity is Severity.WARNING and f.location in told)
    )
    yield from _inspected_alone(ctx, nvidia.driver)
    yield from packages


def _packages(ctx: AuditContext, nvidia: Nvidia) -> Iterator[Finding]:
    """The set's CUDA builds (wheels, and what loads the system's CUDA) against the driver."""
    wheel_claims = cuda_claims(ctx)
    libraries: list[tuple[CudaClaim, facts.DriverNeed, str]] = []
    for claim in [*wheel_claims, *system_cuda_claims(ctx)]:
        cuda = builds.dotted(claim.cuda)
        need = facts.driver_need(cuda)
        if need is None:
            continue
        if nvidia.driver is not None:
            try:
                too_old = Version(nvidia.driver) < Version(need.minimum)
            except InvalidVersion:
                continue
            has = f"host has {nvidia.driver}"
        elif nvidia.cuda is not None:
            # Without the driver's version, its CUDA tells: another major cannot run.
            too_old = int(nvidia.cuda.split(".")[0]) < int(cuda.split(".")[0])
            has = f"the host's driver supports CUDA {nvidia.cuda}"
        else:
            continue
        if not too_old:
            continue
        kernels_missing = _lacks_kernels_here(ctx, claim)
        fix = _fix(ctx, claim, need.minimum, upgrade_helps=not kernels_missing)
        if fix is None:
            continue  # no build of it runs on this GPU whatever the driver: ED102 says so, with its fix
        if builds.is_cuda_library(claim.requirement.name or ""):
            libraries.append((claim, need, has))
            continue
        message = (
            f"{claim.what} needs NVIDIA driver >= {need.minimum} (CUDA {need.cuda}; {need.full} for its full "
            f"feature set); {has}"
        )
        yield ctx.finding(
            CODE,
            message,
            requirement=claim.requirement,
            fix=fix,
            references=(*need.sources, *claim.references),
            # Without [and-cuda], TensorFlow still runs on the CPU: a warning, not an error.
            severity=None if claim in wheel_claims else Severity.WARNING,
        )
    yield from _libraries(ctx, libraries)


def _libraries(ctx: AuditContext, libraries: list[tuple[CudaClaim, facts.DriverNeed, str]]) -> Iterator[Finding]:
    """NVIDIA's CUDA library wheels a set names one by one (a lock's nvidia-*-cu12 pins): one
    finding for them all, at the newest driver any of them needs."""
    if not libraries:
        return
    claim, need, has = max(libraries, key=lambda item: Version(item[1].minimum))
    names = [c.requirement.describe() for c, _, _ in libraries]
    listed = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    what = claim.what if len(names) == 1 else f"{len(names)} CUDA library wheels ({listed})"
    yield ctx.finding(
        CODE,
        f"{what} need{'s' if len(names) == 1 else ''} NVIDIA driver >= {need.minimum} (CUDA {need.cuda}; {need.full} "
        f"for the full feature set); {has}",
        requirement=libraries[0][0].requirement,
        packages=tuple(names),
        fix=f"upgrade the NVIDIA driver to >= {need.minimum}, or move the packages that pull these wheels in to "
        "builds for a CUDA the driver runs",
        references=tuple(need.sources),
    )


def _base_image(ctx: AuditContext, driver: str | None) -> Iterator[Finding]:
    """A base image the host's driver cannot run: an nvidia/cuda image whose NVIDIA_REQUIRE_CUDA
    it does not meet (the NVIDIA container runtime refuses to start it: "unsatisfied condition:
    cuda>=13.2"), or an NGC image whose release notes ask a newer driver."""
    final, image = ctx.requirements.final_base(), ctx.base_facts
    if image is None or driver is None or final is None:
        return
    yield from image_on_driver(ctx, final, image, driver)


def _inspected_alone(ctx: AuditContext, driver: str | None) -> Iterator[Finding]:
    """Built images named alone (``docker image inspect``, no workload runs them): each on the host."""
    if driver is None or not ctx.requirements.inspected:
        return
    from envdoctor.requirements.image_inspect import matching

    workloads = [image for workload in ctx.requirements.workloads for image in workload.images]
    for inspected in ctx.requirements.inspected:
        if not any(matching([inspected], image) for image in workloads):
            yield from image_on_driver(ctx, inspected.image, inspected_facts(inspected), driver, called="the image")


def inspected_facts(inspected: InspectedImage) -> facts.ImageFacts:
    """What the container runtime reads of a built image, as the knowledge base's facts of one."""
    return facts.ImageFacts(cuda=inspected.cuda, require_cuda=inspected.require_cuda)


def image_on_driver(
    ctx: AuditContext, final: BaseImage, image: facts.ImageFacts, driver: str, called: str = "the base image"
) -> Iterator[Finding]:
    """Whether the host's driver runs ``final`` (what the base knows of it: ``image``): a
    Dockerfile's base, or a Kubernetes workload's image."""
    if image.require_cuda is not None:
        yield from _required_cuda(ctx, final, image, driver, called)
    elif image.min_driver is not None:
        yield from _release_notes_driver(ctx, final, image, driver, called)
    elif image.cuda is not None:
        yield from _newer_cuda_major(ctx, final, image.cuda, driver, called)


def _newer_cuda_major(ctx: AuditContext, final: BaseImage, cuda: str, driver: str, called: str) -> Iterator[Finding]:
    """An image whose CUDA (read from its tag) is of a newer major than the driver supports: it
    runs only through CUDA forward compatibility, which NVIDIA provides for data-center GPUs."""
    driver_cuda = facts.cuda_of_driver(driver)
    if driver_cuda is None or Version(cuda).major <= Version(driver_cuda).major:
        return
    need = facts.driver_need(major_minor(cuda))
    upgrade = f"upgrade the NVIDIA driver to >= {need.minimum}" if need else "upgrade the NVIDIA driver"
    yield ctx.finding(
        CODE,
        f"{called} {final.reference} carries CUDA {cuda}, and the host's driver {driver} supports CUDA "
        f"{driver_cuda}: a CUDA {Version(cuda).major} image runs on it only through CUDA forward compatibility, "
        "which NVIDIA provides for data-center GPUs (and a few NGC-ready RTX cards) alone",
        location=final.location,
        fix=f"use an image for CUDA {driver_cuda} or older, or {upgrade}",
        references=(facts.FORWARD_COMPATIBILITY_URL, *(need.sources if need else ())),
        severity=Severity.WARNING,
    )


def _required_cuda(
    ctx: AuditContext, final: BaseImage, image: facts.ImageFacts, driver: str, called: str
) -> Iterator[Finding]:
    driver_cuda = facts.cuda_of_driver(driver)
    if image.require_cuda is None or image.cuda is None or driver_cuda is None:
        return
    gpus = ctx.host.driver.gpus if ctx.host.driver and ctx.host.driver.gpus else ()
    brands = [facts.gpu_brand(gpu.name) for gpu in gpus]
    known = frozenset(b for b in brands if b) if gpus and all(brands) else None
    if facts.container_admits(image.require_cuda, driver, driver_cuda, known) is not False:
        return
    required = image.require_cuda.split()[0]
    # The driver that first supports the CUDA the runtime is asked for (cuda>=12.0 of an image of
    # CUDA 12.8 wheels: 525.60.13), else the image's own CUDA.
    asked = required.removeprefix("cuda>=")
    need = facts.driver_need(asked if _CUDA.fullmatch(asked) else major_minor(image.cuda))
    upgrade = f"upgrade the NVIDIA driver to >= {need.full}" if need else "upgrade the NVIDIA driver"
    yield ctx.finding(
        CODE,
        f"{called} {final.reference} requires {required} (NVIDIA_REQUIRE_CUDA), and the host's driver "
        f"{driver} supports CUDA {driver_cuda}: the NVIDIA container runtime refuses to start it",
        location=final.location,
        fix=f"use an image built for CUDA {driver_cuda} or older, or {upgrade}",
        references=(*filter(None, [image.source]), facts.CONTAINER_REQUIREMENTS_URL, *(need.sources if need else ())),
    )


def _release_notes_driver(
    ctx: AuditContext, final: BaseImage, image: facts.ImageFacts, driver: str, called: str
) -> Iterator[Finding]:
    """An NGC image's notes: "requires NVIDIA Driver release N or later", except on data-center
    GPUs, where the listed older branches also run it (forward compatibility)."""
    try:
        version = Version(driver)
    except InvalidVersion:
        return
    assert image.min_driver is not None
    if version.major >= Version(image.min_driver).major:
        return
    branch = [c for c in image.compat_drivers if Version(c).major == version.major]
    data_center = bool(branch) and version >= Version(branch[0])
    cuda = f"CUDA {image.cuda}, " if image.cuda else ""
    also = (
        f"; on a data-center GPU, release {branch[0]} or later of the R{version.major} branch runs it too"
        if data_center
        else ""
    )
    yield ctx.finding(
        CODE,
        f"{called} {final.reference} is built on {cuda}which its release notes say requires NVIDIA driver "
        f"release {image.min_driver} or later; the host has {driver}{also}",
        location=final.location,
        fix=f"upgrade the NVIDIA driver to release {image.min_driver} or later, or use an older release of the image"
        + (" (or run it only on data-center GPUs, with the CUDA forward-compatibility package)" if data_center else ""),
        references=tuple(filter(None, [image.source])),
        severity=Severity.WARNING if data_center else None,
    )


def _fix(ctx: AuditContext, claim: CudaClaim, minimum: str, *, upgrade_helps: bool = True) -> str | None:
    """A build that runs here, else the driver upgrade; the upgrade is offered only where it
    would help: not for a build without kernels for the host's GPU. None: nothing helps."""
    upgrade = f"upgrade the NVIDIA driver to >= {minimum}"
    name = claim.requirement.name or ""
    found = runnable(ctx, name)
    if found is not None:
        return f"install {found.offer()}" + (f" or {upgrade}" if upgrade_helps else "")
    elsewhere = runnable(ctx, name, within_set=False)
    if elsewhere is not None:
        move = f"move to a {name} with a build this driver runs: {elsewhere.install()}"
        return f"{upgrade}, or {move}" if upgrade_helps else move
    if not upgrade_helps:
        return None
    return f"{upgrade}: no release of {name} the base knows is built for a CUDA this driver runs"


def _lacks_kernels_here(ctx: AuditContext, claim: CudaClaim) -> bool:
    """Whether the claim's build has no kernels for some GPU of the host."""
    nvidia = ctx.host.driver
    build = package_build(ctx, claim.requirement.name or "")
    if nvidia is None or build is None or build.requirement is not claim.requirement:
        return False
    capabilities = nvidia.capabilities
    return any(builds.lacks_kernels(build.build, capability) for capability in capabilities)
