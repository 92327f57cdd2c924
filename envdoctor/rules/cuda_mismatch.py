"""ED201 cuda-mismatch: layers disagree on CUDA or cuDNN; ED205 when frameworks bring their own.
The host's nvcc and its libraries on LD_LIBRARY_PATH against the set are judged in ``toolchain``."""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from envdoctor.findings import Finding, Severity
from envdoctor.kb import facts
from envdoctor.kb.check import major_minor
from envdoctor.requirements.model import BaseImage, Requirement
from envdoctor.rules import toolchain
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import CudaClaim, cuda_claims, cuda_major, system_cuda_users

CODE = "ED201"
_CUDNN_WHEEL = re.compile(r"^nvidia-cudnn-cu\d+$")


def check(ctx: AuditContext) -> Iterator[Finding]:
    claims = cuda_claims(ctx)
    yield from _base_image(ctx, claims)
    yield from _mixed_majors(ctx, claims)
    yield from _system_cudnn(ctx, claims)
    yield from _image_library_path(ctx, claims)
    yield from _separate_stacks(ctx, claims)
    yield from _environment_cuda(ctx)
    yield from toolchain.check(ctx)


def _environment_cuda(ctx: AuditContext) -> Iterator[Finding]:
    """The CUDA a conda environment installs (cudatoolkit=11.8) against what loads CUDA from it
    (TensorFlow without [and-cuda], onnxruntime-gpu): another major's libraries are not found."""
    if not ctx.requirements.system_cuda:
        return
    cuda, location = ctx.requirements.system_cuda[-1]
    for user in system_cuda_users(ctx):
        if user.cuda is None or cuda_major(user.cuda) == cuda_major(cuda):
            continue
        yield ctx.finding(
            CODE,
            f"the environment installs CUDA {cuda}, and {user.describe()} needs CUDA {user.cuda}: it does not find "
            "that major's libraries, and runs without its GPU or fails to load",
            location=location,
            packages=(user.requirement.describe(),),
            fix=f"install CUDA {major_minor(user.cuda)} in the environment, or a build of {user.requirement.name} for "
            f"CUDA {cuda_major(cuda)}",
            references=user.references,
            # TensorFlow without its CUDA still runs, on the CPU: a warning.
            severity=Severity.WARNING if user.build.gpu_optional else None,
        )


def _image_cuda(image: BaseImage) -> tuple[str, tuple[str, ...]] | None:
    found = facts.cuda_image(image.repository, image.tag)
    if found is None or found.cuda is None:
        return None
    return found.cuda, (found.source,) if found.source else ()


def _base_image(ctx: AuditContext, claims: list[CudaClaim]) -> Iterator[Finding]:
    for image in ctx.requirements.images:
        found = _image_cuda(image)
        if found is None or not image.final:
            continue
        base_cuda, sources = found
        for claim in claims:
            if "." not in claim.cuda and cuda_major(claim.cuda) == Version(base_cuda).major:
                continue
            try:
                newer = Version(major_minor(claim.cuda)) > Version(major_minor(base_cuda))
            except InvalidVersion:
                continue
            if not newer or cuda_major(claim.cuda) != Version(base_cuda).major:
                # Another major's libraries have other file names (libcudart.so.11, .so.13): none shadows
                # the other, and the second copy of CUDA is ED501's bloat, not a clash.
                continue
            yield ctx.finding(
                CODE,
                f"the base image {image.reference} carries CUDA {base_cuda}, but {claim.what} brings or needs "
                f"CUDA {claim.cuda}: two CUDAs in one image, and the older one can be loaded first",
                location=image.location,
                packages=(claim.requirement.describe(),),
                fix="start from python:X.Y-slim and let the wheels bring their CUDA (envdoctor dockerfile), or pin "
                f"a build of {claim.requirement.name} for CUDA {major_minor(base_cuda)}",
                references=(*sources, *claim.references),
            )


def _mixed_majors(ctx: AuditContext, claims: list[CudaClaim]) -> Iterator[Finding]:
    claims = [c for c in claims if c.shared]  # a build with its CUDA runtime linked in loads no other's
    majors = sorted({cuda_major(c.cuda) for c in claims})
    if len(majors) < 2:
        return
    newest = [c for c in claims if cuda_major(c.cuda) == majors[-1]]
    for claim in claims:
        if cuda_major(claim.cuda) == majors[-1]:
            continue
        yield ctx.finding(
            CODE,
            f"{claim.what} is a CUDA {cuda_major(claim.cuda)} build beside CUDA {majors[-1]} ones "
            f"({', '.join(c.what for c in newest[:2])}): one process loads both sets of libraries",
            requirement=claim.requirement,
            packages=(claim.requirement.describe(), *(c.requirement.describe() for c in newest[:2])),
            fix=f"use CUDA {majors[-1]} builds for every GPU package",
            references=claim.references,
        )


def _system_cudnn(ctx: AuditContext, claims: list[CudaClaim]) -> Iterator[Finding]:
    toolkit = ctx.host.cuda_toolkit
    wheel = next((r for r in ctx.wanted() if _CUDNN_WHEEL.match(r.name or "")), None)
    bringing = [claim for claim in claims if claim.brings_wheels]
    if toolkit is None or (wheel is None and not bringing):
        return
    target: Requirement = wheel if wheel is not None else bringing[0].requirement
    for library in toolkit.libraries:
        if library.name != "libcudnn":
            continue
        yield ctx.finding(
            CODE,
            f"a system cuDNN {library.version or ''} on LD_LIBRARY_PATH ({library.path}) can shadow the cuDNN "
            f"that {target.describe()} brings as a wheel",
            requirement=target,
            fix=f"remove {library.path.rsplit('/', 1)[0]} from LD_LIBRARY_PATH for this environment",
            severity=Severity.WARNING,
        )


def _separate_stacks(ctx: AuditContext, claims: list[CudaClaim]) -> Iterator[Finding]:
    """A package that loads the system's CUDA beside one that brings its own as wheels."""
    bringing = [claim for claim in claims if claim.brings_wheels]
    if not bringing:
        return
    for user in system_cuda_users(ctx):
        yield ctx.finding(
            "ED205",
            f"{bringing[0].what} comes with its own CUDA {bringing[0].cuda} libraries and {user.describe()} loads the "
            "system's: they share no wheels, but the environment holds both and one process loads whichever "
            "cuDNN comes first",
            requirement=user.requirement,
            packages=(bringing[0].requirement.describe(), user.requirement.describe()),
        )


def _image_library_path(ctx: AuditContext, claims: list[CudaClaim]) -> Iterator[Finding]:
    """A Dockerfile's LD_LIBRARY_PATH naming CUDA folders puts them ahead of the wheels' libraries."""
    bringing = [claim for claim in claims if claim.brings_wheels]
    if not bringing:
        return
    for key, value, location in ctx.requirements.environment:
        if key == "LD_LIBRARY_PATH" and ("cuda" in value or "cudnn" in value):
            yield ctx.finding(
                CODE,
                f"the image sets LD_LIBRARY_PATH={value}: CUDA libraries there are loaded before the ones "
                f"{bringing[0].what} brings",
                location=location,
                packages=(bringing[0].requirement.describe(),),
                fix="leave CUDA folders out of LD_LIBRARY_PATH; the wheels find their own libraries",
                severity=Severity.WARNING,
            )
