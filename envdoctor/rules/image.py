"""A Dockerfile's images: ED405 mutable base tags, ED501/ED502 image bloat."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from envdoctor.findings import Finding
from envdoctor.requirements.model import BaseImage, Location
from envdoctor.rules.context import AuditContext
from envdoctor.rules.stack import cuda_claims

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
    from envdoctor.kb import facts

    image = facts.cuda_image(final.repository, final.tag)
    if image is None:
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
    # A -base- flavour carries the CUDA runtime alone: a small duplicate, not "CUDA twice".
    if bringing and image.flavor != "base":
        what = bringing[0].what
        slim = "start from python:X.Y-slim; the host's driver reaches the container through the NVIDIA container "
        slim += "toolkit (envdoctor dockerfile writes such images)"
        if "devel" in (final.tag or "") and _compiles_against_cuda(ctx, final):
            # The stage builds CUDA code (from a git checkout, without build isolation): it needs the
            # toolkit, so the toolkit goes in a builder stage, not away.
            slim = (
                "build in a stage on this CUDA devel image and copy the environment into a final stage on "
                "python:X.Y-slim (the compiled code needs the toolkit only to build)"
            )
        yield ctx.finding(
            "ED501",
            f"{final.reference} carries CUDA libraries, and {what} brings its own as pip wheels: the image holds "
            "CUDA twice",
            location=final.location,
            fix=slim,
        )


def _compiles_against_cuda(ctx: AuditContext, final: BaseImage) -> bool:
    """Whether the final stage builds packages from source in place (a git or local checkout, or
    --no-build-isolation, which builds against the image's own torch and CUDA toolkit)."""
    line = final.location.line or 0
    return any(
        (loc.line or 0) >= line and ("--no-build-isolation" in command or "git+" in command or "setup.py" in command)
        for command, loc in ctx.requirements.commands
    )


_UV_INSTALL = re.compile(r"\buv\s+(?:pip\s+(?:install|sync)|sync)\b")
# pip takes any unambiguous prefix of an option: --no-cache is --no-cache-dir.
_NO_CACHE = re.compile(r"--no-cache(?:-|-d|-di|-dir)?(?![\w-])")


class _Cache(NamedTuple):
    """An installer's download cache in an image: how to tell its installs and turn it off."""

    name: str
    install: re.Pattern[str]
    off_env: str
    off_flag: re.Pattern[str]
    flag: str
    or_env: str
    folder: str
    what: str


_CACHES = (
    # uv's cache: $XDG_CACHE_HOME/uv, else ~/.cache/uv (uv's docs); off with --no-cache or UV_NO_CACHE.
    _Cache(
        "uv",
        _UV_INSTALL,
        "UV_NO_CACHE",
        re.compile(r"--no-cache\b"),
        "--no-cache",
        " (or ENV UV_NO_CACHE=1)",
        "/root/.cache/uv",
        "its cache",
    ),
    _Cache(
        "pip",
        re.compile(r"\bpip3? install\b|-m pip install\b"),
        "PIP_NO_CACHE_DIR",
        _NO_CACHE,
        "--no-cache-dir",
        "",
        "/root/.cache/pip",
        "its download cache",
    ),
)


def _build_tools(ctx: AuditContext, final: BaseImage, first_line: int) -> Iterator[Finding]:
    """Build tools and caches left in the final stage: one finding per kind, at its first line,
    naming the others (four pip installs without --no-cache-dir are one habit, not four findings)."""
    tools = [
        (p, loc)
        for p, loc in ctx.requirements.system_packages
        if (loc.line or 0) >= first_line and _BUILD_PACKAGES.match(p)
    ]
    if tools:
        names = ", ".join(dict.fromkeys(package for package, _ in tools))
        yield ctx.finding(
            "ED502",
            f"the final stage installs {names} with apt{_also(tools)}: build tools stay in the image that runs the "
            "program",
            location=tools[0][1],
            fix="install build tools in a builder stage, or remove them in the same RUN after use",
        )
    final_commands = [(c, loc) for c, loc in ctx.requirements.commands if (loc.line or 0) >= first_line]
    for cache in _CACHES:
        # ENV PIP_NO_CACHE_DIR=1 (UV_NO_CACHE=1) turns the cache off for every install after it.
        if any(key == cache.off_env and value for key, value, _ in ctx.requirements.environment):
            continue
        cached = [
            (c, loc)
            for c, loc in final_commands
            if cache.install.search(c)
            and not (cache.name == "pip" and _UV_INSTALL.search(c))
            and not cache.off_flag.search(c)
            and "type=cache" not in c
        ]
        if cached:
            yield ctx.finding(
                "ED502",
                f"{cache.name} installs in the final stage without {cache.flag} or a cache mount{_also(cached)}: "
                f"{cache.what} stays in the image",
                location=cached[0][1],
                fix=f"add {cache.flag} to each{cache.or_env}, or RUN --mount=type=cache,target={cache.folder} (the "
                "cache folder of the USER the RUN runs as)",
            )
    lists = [
        (c, loc)
        for c, loc in final_commands
        if "apt-get install" in c and "rm -rf /var/lib/apt/lists" not in c and "type=cache" not in c
    ]
    if lists:
        yield ctx.finding(
            "ED502",
            f"apt-get's package lists stay in the final image{_also(lists)}",
            location=lists[0][1],
            fix="end each such RUN with: rm -rf /var/lib/apt/lists/*",
        )


def _also(found: list[tuple[str, Location]]) -> str:
    """ " (also at lines 24, 26)" for the places after the first."""
    lines = sorted({loc.line for _, loc in found[1:] if loc.line and loc.line != found[0][1].line})
    return f" (also at line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})" if lines else ""
