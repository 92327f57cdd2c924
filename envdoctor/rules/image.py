"""A Dockerfile's images: ED405 mutable base tags, ED501/ED502 image bloat."""

from __future__ import annotations

import re
from collections.abc import Iterator

from envdoctor.findings import Finding
from envdoctor.requirements.model import BaseImage
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import cuda_claims

_CUDA_IMAGES = ("nvidia/cuda", "docker.io/nvidia/cuda", "nvcr.io/nvidia/cuda")
_BUILD_PACKAGES = re.compile(
    r"^(cuda-toolkit.*|nvidia-cuda-toolkit|cuda-nvcc.*|cuda-libraries-dev.*|build-essential|gcc(-\d+)?|g\+\+(-\d+)?)$"
)


def check(ctx: AuditContext) -> Iterator[Finding]:
    images = ctx.requirements.images
    if not images:
        return
    stages = {image.stage for image in images if image.stage}
    for image in images:
        if image.reference in stages or image.reference == "scratch" or image.digest or "$" in image.reference:
            continue  # a stage, nothing, pinned, or named by an ARG whose value only the build knows
        yield ctx.finding(
            "ED405",
            f"FROM {image.reference} names a tag that can be re-pointed: the same Dockerfile builds on other "
            "bytes later",
            location=image.location,
            fix=f"pin the digest: FROM {image.repository}:{image.tag or 'latest'}@sha256:<digest>",
        )
    final = images[-1]
    in_final = final.location.line or 0
    yield from _cuda_base(ctx, final)
    yield from _build_tools(ctx, final, in_final)


def _cuda_base(ctx: AuditContext, final: BaseImage) -> Iterator[Finding]:
    if final.repository not in _CUDA_IMAGES:
        return
    if "devel" in (final.tag or ""):
        yield ctx.finding(
            "ED502",
            f"the final stage runs on {final.reference}, a CUDA devel image: the compilers and the whole CUDA "
            "toolkit ship in the image that runs the program",
            location=final.location,
            fix="compile in a builder stage and copy only the results (or the virtual environment) into a slim "
            "final stage",
        )
    bringing = [claim for claim in cuda_claims(ctx) if claim.brings_wheels]
    if bringing:
        what = bringing[0].what
        yield ctx.finding(
            "ED501",
            f"{final.reference} carries CUDA libraries, and {what} brings its own as pip wheels: the image holds "
            "CUDA twice",
            location=final.location,
            fix="start from python:X.Y-slim; the host's driver reaches the container through the NVIDIA container "
            "toolkit (envdoctor dockerfile writes such images)",
        )


# pip takes any unambiguous prefix of an option: --no-cache is --no-cache-dir.
_NO_CACHE = re.compile(r"--no-cache(?:-|-d|-di|-dir)?(?![\w-])")


def _build_tools(ctx: AuditContext, final: BaseImage, first_line: int) -> Iterator[Finding]:
    for package, location in ctx.requirements.system_packages:
        if (location.line or 0) < first_line or not _BUILD_PACKAGES.match(package):
            continue
        yield ctx.finding(
            "ED502",
            f"the final stage installs {package} with apt: build tools stay in the image that runs the program",
            location=location,
            fix="install build tools in a builder stage, or remove them in the same RUN after use",
        )
    # ENV PIP_NO_CACHE_DIR=1 turns the cache off for every pip after it.
    cache_off = any(key == "PIP_NO_CACHE_DIR" and value for key, value, _ in ctx.requirements.environment)
    for command, location in ctx.requirements.commands:
        if (location.line or 0) < first_line:
            continue
        installs = re.search(r"\bpip3? install\b|-m pip install\b", command)
        if installs and not cache_off and not _NO_CACHE.search(command) and "type=cache" not in command:
            yield ctx.finding(
                "ED502",
                "pip installs in the final stage without --no-cache-dir or a cache mount: its download cache stays "
                "in the image",
                location=location,
                fix="add --no-cache-dir, or RUN --mount=type=cache,target=/root/.cache/pip",
            )
        if "apt-get install" in command and "rm -rf /var/lib/apt/lists" not in command and "type=cache" not in command:
            yield ctx.finding(
                "ED502",
                "apt-get's package lists stay in the final image",
                location=location,
                fix="end the same RUN with: rm -rf /var/lib/apt/lists/*",
            )
