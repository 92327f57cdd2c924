"""Which CUDA each GPU package of a requirement set brings or needs, and why envdoctor thinks so."""

from __future__ import annotations

import re
from typing import NamedTuple

from packaging.version import Version

from envdoctor.audit.context import AuditContext
from envdoctor.kb import facts
from envdoctor.kb.check import major_minor
from envdoctor.requirements.model import Requirement

PYTORCH_INDEX = re.compile(
    r"https?://download\.pytorch\.org/whl/(?:(?:nightly|test)/)?(?P<variant>cpu|cu\d{2,3}|rocm[\d.]+)/?$"
)
_LOCAL_VARIANT = re.compile(r"^(?P<variant>cpu|cu\d{2,3}|rocm[\d.]+)$")
_CUDA_RUNTIME = re.compile(r"^nvidia-cuda-(runtime|nvrtc)-cu(?P<major>\d+)$")
_CUDA_MAJOR_SUFFIX = re.compile(
    r"^(?:nvidia-.*-cu|cupy-cuda|jax-cuda|tensorrt-cu)(?P<major>\d+)(?:x|-plugin|-pjrt|-libs|-bindings)?$"
)


class TorchBuild(NamedTuple):
    requirement: Requirement
    version: Version
    # cpu, cu121 ...; None where the build cannot be told (a platform without a known default).
    variant: str | None
    # How the variant was learnt, for messages: "the +cu121 label", "the cu121 index", "PyPI's default".
    how: str
    references: tuple[str, ...] = ()

    @property
    def cuda(self) -> str | None:
        return facts.cuda_of_torch_variant(self.variant) if self.variant else None

    def describe(self) -> str:
        return (
            f"torch {self.version} ({self.variant} build, from {self.how})" if self.variant else f"torch {self.version}"
        )


class CudaClaim(NamedTuple):
    """A package build that needs the CUDA ``cuda`` (major.minor, or a major alone)."""

    requirement: Requirement
    cuda: str
    what: str
    references: tuple[str, ...] = ()


def pytorch_index_variant(ctx: AuditContext) -> str | None:
    """The build variant of a PyTorch wheel index the requirement set uses, if any."""
    urls = [ctx.requirements.indexes.index_url or "", *ctx.requirements.indexes.extra_index_urls]
    for url in urls:
        match = PYTORCH_INDEX.match(url)
        if match:
            return match.group("variant")
    return None


def torch_build(ctx: AuditContext) -> TorchBuild | None:
    requirement = ctx.find("torch")
    version = ctx.version_of("torch")
    if requirement is None or version is None:
        return None
    local = _LOCAL_VARIANT.match(version.local or "")
    if local:
        return TorchBuild(requirement, version, local.group("variant"), f"the +{version.local} label")
    index_variant = pytorch_index_variant(ctx)
    if index_variant:
        # pip and uv prefer the index build: its local label sorts above the plain release.
        return TorchBuild(requirement, version, index_variant, f"https://download.pytorch.org/whl/{index_variant}")
    if ctx.host.os == "macos":
        return TorchBuild(requirement, version, "cpu", "PyPI, which has no CUDA builds for macOS")
    if ctx.host.os == "linux" and ctx.host.arch in (None, "x86_64"):
        build = facts.torch_pypi_build(version)
        if build is not None:
            variant = facts.variant_of_pypi_cuda(build["cuda"])
            return TorchBuild(requirement, version, variant, "PyPI's default Linux wheel", (build["source"],))
    return TorchBuild(requirement, version, None, "an unknown index")


def cuda_claims(ctx: AuditContext) -> list[CudaClaim]:
    """Every package whose build needs a CUDA, with the CUDA it needs."""
    claims: list[CudaClaim] = []
    torch = torch_build(ctx)
    if torch is not None and torch.cuda is not None:
        claims.append(CudaClaim(torch.requirement, torch.cuda, torch.describe(), torch.references))
    for requirement in ctx.wanted():
        name = requirement.name or ""
        version = ctx.version_of(name)
        runtime = _CUDA_RUNTIME.match(name)
        if runtime and version is not None:
            claims.append(CudaClaim(requirement, major_minor(str(version)), f"{name} {version}"))
        elif _CUDA_MAJOR_SUFFIX.match(name):
            major = _CUDA_MAJOR_SUFFIX.match(name).group("major")  # type: ignore[union-attr]
            claims.append(CudaClaim(requirement, major, f"{name} (CUDA {major} build)"))
        if name == "tensorflow" and "and-cuda" in requirement.extras and version is not None:
            claims += _tensorflow_claims(requirement, version)
    return claims


def _tensorflow_claims(requirement: Requirement, version: Version) -> list[CudaClaim]:
    wheel = facts.tensorflow_wheel(version)
    if wheel is None or "and_cuda" not in wheel:
        return []
    pins: dict[str, str] = wheel["and_cuda"]
    for name, pin in pins.items():
        match = _CUDA_RUNTIME.match(name)
        if match:
            try:
                cuda = major_minor(pin)
            except ValueError:
                cuda = match.group("major")
            what = f"tensorflow[and-cuda] {version} (pins {name}=={pin})"
            return [CudaClaim(requirement, cuda, what, (wheel["source"],))]
    return []


def cuda_major(cuda: str) -> int:
    return int(cuda.split(".", maxsplit=1)[0])


def system_cuda_claims(ctx: AuditContext) -> list[CudaClaim]:
    """Packages that use the GPU through the system's CUDA, not wheels: TensorFlow without
    [and-cuda] on Linux needs the CUDA it was tested with to use the GPU at all."""
    requirement = ctx.find("tensorflow")
    version = ctx.version_of("tensorflow")
    if requirement is None or version is None or "and-cuda" in requirement.extras or ctx.host.os != "linux":
        return []
    tested = facts.tensorflow_tested(version)
    if tested is None or "cuda" not in tested:
        return []
    what = f"tensorflow {version} (built and tested with CUDA {tested['cuda']}; to use the GPU it loads that CUDA)"
    return [CudaClaim(requirement, major_minor(tested["cuda"]), what, (tested["source"],))]
