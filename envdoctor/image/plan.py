"""Which image a locked environment needs: the base, the CUDA it must carry (if any), and why.

The CUDA comes from the lock, never from a guess: a +cuXYZ build of torch, the nvidia-* CUDA
runtime wheels, or what the knowledge base says a package loads from the system.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import NamedTuple

from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.errors import EnvdoctorError, InputError
from envdoctor.image.sources import CUDA, NATIVE, SourceBuild
from envdoctor.kb import Row, builds, facts, load_topic
from envdoctor.kb.check import major_minor
from envdoctor.lock.model import LockedPackage, lock_lines

# An image reference as --base-image takes it: name[:tag]@sha256:digest, nothing else.
IMAGE_REFERENCE = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?@(?P<digest>sha256:[0-9a-f]{64})$"
)


class BaseImage(NamedTuple):
    repository: str
    tag: str
    digest: str
    size_mb: int | None
    why: str

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}@{self.digest}"

    @property
    def name(self) -> str:
        return f"{self.repository}:{self.tag}"


class ImagePlan(NamedTuple):
    python: str  # major.minor
    cuda: str | None  # the CUDA the lock's builds need, major.minor
    base: BaseImage
    # Set when the base carries no Python: the interpreter is copied from this image.
    python_image: BaseImage | None
    reasons: tuple[str, ...]


class BuilderPlan(NamedTuple):
    """The wheels stage: where locked source archives become wheels, before the install."""

    image: BaseImage
    # Set when the builder image carries no Python: the interpreter is copied from this image.
    python_image: BaseImage | None
    builds: tuple[SourceBuild, ...]
    reason: str

    @property
    def names(self) -> frozenset[str]:
        """The (normalised) names of the packages it builds."""
        return frozenset(build.name for build in self.builds)


class ImageRefused(EnvdoctorError):
    """The lock and the target contradict each other; the image would not work."""


def split_lock(text: str, source_names: Collection[str]) -> tuple[str, str]:
    """The lockfile cut in two: the packages installed as wheels, and those built from source.
    Option lines (the index) go to both; each part stays a valid hash-pinned requirements file."""
    wheels, sources = [], []
    for _, line in lock_lines(text):
        if line.startswith("-"):
            wheels.append(line)
            sources.append(line)
            continue
        name = canonicalize_name(line.split("==", 1)[0])
        (sources if name in source_names else wheels).append(" ".join(line.split()))
    return "".join(line + "\n" for line in wheels), "".join(line + "\n" for line in sources)


def lock_cuda(distributions: Sequence[LockedPackage]) -> tuple[str | None, str]:
    """The CUDA (major.minor) the lock's builds bring as wheels, and which pin says so: a build
    variant of the torch family first (its label names the minor), else NVIDIA's runtime wheel."""
    where = builds.Where("linux", None)
    found = [(dist, builds.build_of(dist.name, Version(dist.version), where)) for dist in distributions]
    labelled = [(d, b) for d, b in found if b is not None and b.variant and Version(d.version).local and b.cuda]
    runtimes = [(d, b) for d, b in found if b is not None and builds.is_cuda_runtime(d.name) and b.cuda]
    for dist, build in [*labelled, *runtimes]:
        assert build is not None and build.cuda is not None
        return build.cuda, f"{dist.name}=={dist.version}"
    return None, ""


class SystemCuda(NamedTuple):
    """What a package that loads CUDA from the system needs the image to carry."""

    user: str  # name==version
    cuda: str | None  # major.minor, or a major alone when any minor of it will do
    cudnn_major: int | None


def system_cuda_users(distributions: Sequence[LockedPackage]) -> list[SystemCuda]:
    """Packages of the lock that load CUDA from the system rather than from wheels (knowledge base)."""
    users = []
    brings_wheels = any(builds.is_cuda_runtime(d.name) for d in distributions)
    for dist in distributions:
        build = builds.build_of(dist.name, Version(dist.version), builds.Where("linux", None))
        if build is None or not build.loads_system_cuda or (build.gpu_optional and brings_wheels):
            continue
        # TensorFlow without [and-cuda] loads the CUDA it was tested with; with the wheels, those.
        suffix = " (without [and-cuda])" if build.gpu_optional else ""
        users.append(SystemCuda(f"{dist.name}=={dist.version}{suffix}", build.cuda, build.cudnn_major))
    return users


def _image(row: Row, why: str) -> BaseImage:
    return BaseImage(row["repository"], row["tag"], row.get("digest", ""), row.get("size_mb"), why)


def _known_image(repository: str, tag: str, why: str) -> BaseImage | None:
    row = facts.base_image(repository, tag)
    return _image(row, why) if row is not None and "digest" in row else None


def _cuda_rows(flavours: tuple[str, ...], cuda: str, having: str) -> list[Row]:
    """The nvidia/cuda images of these flavours that carry CUDA ``cuda`` (a major.minor, or a
    major alone for any release of it) and whose row records ``having`` (digest, size_mb)."""
    return [
        row
        for row in load_topic("base_images", "image")
        if row["repository"] == "nvidia/cuda" and row["flavor"] in flavours and "cuda" in row and having in row
        and _same_cuda(row["cuda"], cuda)
    ]  # fmt: skip


def python_image(python: str, override: str | None = None, *, copied: bool = False) -> BaseImage:
    """The official Python slim image of ``python``: the base itself, or (``copied``) the image
    a CUDA base's interpreter is copied from, which --base-image does not replace."""
    if override:
        return parse_reference(override, "the Python base image")
    for suite in ("bookworm", "trixie"):
        found = _known_image("python", f"{python}-slim-{suite}", f"the official Python {python} slim image")
        if found:
            return found
    if copied:
        known = sorted(
            {
                row["tag"].split("-")[0]
                for row in load_topic("base_images", "image")
                if row["repository"] == "python" and "-slim-" in row["tag"] and "digest" in row
            },
            key=lambda version: tuple(int(part) for part in version.split(".") if part.isdigit()),
        )
        raise ImageRefused(
            f"the knowledge base has no digest for a python:{python}-slim image to copy the interpreter from "
            f"into the CUDA base: lock for a Python it has one for ({', '.join(known)})"
        )
    raise ImageRefused(f"the knowledge base has no digest for a python:{python}-slim image; give --base-image")


def cuda_image(cuda: str, cudnn_major: int | None) -> BaseImage | None:
    """The smallest nvidia/cuda flavour carrying CUDA ``cuda`` (a major.minor, or a major alone for
    the newest of that major) and cuDNN ``cudnn_major`` if one is needed: never devel."""
    flavours = ("cudnn-runtime",) if cudnn_major else ("base", "runtime", "cudnn-runtime")
    candidates = []
    for row in _cuda_rows(flavours, cuda, "digest"):
        if cudnn_major and Version(row["cudnn"]).major != cudnn_major:
            continue
        newest_first = tuple(-part for part in Version(row["cuda"]).release)
        candidates.append((flavours.index(row["flavor"]), newest_first, row["os"] != "ubuntu24.04", row["tag"], row))
    if not candidates:
        return None
    *_, row = min(candidates)
    why = f"carries CUDA {row['cuda']}" + (f" and cuDNN {row['cudnn']}" if "cudnn" in row else "")
    return _image(row, why)


def _same_cuda(release: str, wanted: str) -> bool:
    return major_minor(release) == wanted if "." in wanted else str(Version(release).major) == wanted


def devel_image(cuda: str) -> BaseImage | None:
    """The CUDA devel image a generator like Cog would start from, for the size comparison: the
    cuDNN devel image of this CUDA if its size is known, else the newest of the same major whose
    size is known (its ``why`` then says so)."""
    major = cuda.split(".", maxsplit=1)[0]
    sized = _cuda_rows(("cudnn-devel",), major, "size_mb")
    if not sized:
        return None
    row = max(sized, key=lambda row: (major_minor(row["cuda"]) == cuda, Version(row["cuda"])))
    same = major_minor(row["cuda"]) == cuda
    why = "devel" if same else f"the newest CUDA {major} devel image whose size is known"
    return _image(row, why)


def parse_reference(reference: str, what: str) -> BaseImage:
    match = IMAGE_REFERENCE.fullmatch(reference)
    if match is None:
        raise InputError(reference, f"{what} must be NAME[:TAG]@sha256:<64 hex> (a digest-pinned reference)")
    return BaseImage(match.group("name"), match.group("tag") or "latest", match.group("digest"), None, "given")


def plan_image(distributions: Sequence[LockedPackage], python: str, base_override: str | None = None) -> ImagePlan:
    cuda, cuda_source = lock_cuda(distributions)
    users = system_cuda_users(distributions)
    reasons = []
    if cuda is not None:
        reasons.append(f"the lock needs CUDA {cuda} ({cuda_source})")
    if not users:
        base = python_image(python, base_override)
        reasons.append(
            "every GPU package brings its CUDA libraries as wheels: a plain Python base, no CUDA image; "
            "the host driver arrives through the NVIDIA container toolkit"
            if cuda
            else "no GPU package: a plain Python base"
        )
        return ImagePlan(python, cuda, base, None, tuple(reasons))
    names = ", ".join(user.user for user in users)
    system_cuda = _agreed([user.cuda for user in users], names, "CUDA")
    if cuda and system_cuda and not _same_cuda(cuda, system_cuda):
        raise ImageRefused(
            f"the lock's builds need CUDA {cuda}, but {names} load CUDA {system_cuda} from the system: "
            "one image cannot carry both; put them in separate images"
        )
    wanted_cuda = cuda or system_cuda
    if wanted_cuda is None:
        raise ImageRefused(f"{names} load CUDA from the system, but no CUDA version follows from the lock")
    cudnn_major = _agreed([user.cudnn_major for user in users], names, "cuDNN")
    if base_override:
        found: BaseImage | None = parse_reference(base_override, "--base-image")
    else:
        found = cuda_image(wanted_cuda, int(cudnn_major) if cudnn_major else None)
    if found is None:
        cudnn = f" and cuDNN {cudnn_major}" if cudnn_major else ""
        raise ImageRefused(
            f"{names} load CUDA {wanted_cuda}{cudnn} from the system, and the knowledge base has no "
            f"digest-pinned nvidia/cuda image for it: give --base-image nvidia/cuda:<tag>@sha256:<digest>"
        )
    image_cuda = _image_cuda(found) or wanted_cuda
    reasons.append(f"{names} load CUDA from the system: {found.name} ({found.why}), never devel")
    return ImagePlan(python, image_cuda, found, python_image(python, copied=True), tuple(reasons))


def _agreed(values: list[str | int | None], names: str, what: str) -> str | None:
    """The one value the system-CUDA users agree on (a major alone agrees with any release of it);
    two different ones cannot share an image."""
    given = {str(value) for value in values if value is not None}
    known = sorted(value for value in given if not any(other.startswith(f"{value}.") for other in given))
    if len(known) > 1:
        raise ImageRefused(f"{names} need different {what} releases from the system ({', '.join(known)})")
    return known[0] if known else None


def _image_cuda(image: BaseImage) -> str | None:
    """The CUDA (major.minor) a known nvidia/cuda image carries."""
    row = facts.base_image(image.repository, image.tag)
    return major_minor(row["cuda"]) if row and "cuda" in row else None


def plan_builder(plan: ImagePlan, builds: list[SourceBuild], override: str | None = None) -> BuilderPlan:
    """The image that builds the source archives: a CUDA devel image only when one compiles CUDA
    code (and only in this stage), a Python image with compilers for native code, else the base."""
    names = ", ".join(f"{build.name}=={build.version}" for build in builds)
    compiles = {build.compiles for build in builds}
    given = parse_reference(override, "--builder-image") if override else None
    if CUDA in compiles:
        if plan.cuda is None:
            raise ImageRefused(
                f"{names}: its build compiles CUDA code, but the lock holds no CUDA build to compile against"
            )
        image = given or _devel_with_digest(plan.cuda)
        if image is None:
            raise ImageRefused(
                f"{names}: its build compiles CUDA code, and the knowledge base has no digest-pinned nvidia/cuda "
                f"devel image for CUDA {plan.cuda}: give --builder-image nvidia/cuda:<tag>@sha256:<digest>"
            )
        reason = f"{names}: CUDA code, compiled in a wheels stage on {image.name} (nvcc); the devel image stays there"
        return BuilderPlan(image, python_image(plan.python, copied=True), tuple(builds), reason)
    if NATIVE in compiles and given is None:
        if plan.python_image is None:
            image = _known_image("python", f"{plan.python}-bookworm", "the official Python image with compilers")
            copies = None
        else:
            image = _devel_with_digest(plan.cuda) if plan.cuda else None
            copies = plan.python_image
        if image is None:
            raise ImageRefused(
                f"{names}: its build compiles native code and no image with compilers is known: give --builder-image"
            )
        return BuilderPlan(
            image, copies, tuple(builds), f"{names}: native code, compiled in a wheels stage on {image.name}"
        )
    what = "native code" if NATIVE in compiles else "no code to compile"
    return BuilderPlan(
        given or plan.base, plan.python_image, tuple(builds), f"{names}: {what}, built in a wheels stage"
    )


def _devel_with_digest(cuda: str) -> BaseImage | None:
    """The digest-pinned nvidia/cuda devel image for CUDA ``cuda`` (major.minor), without cuDNN if one is known."""
    if "." not in cuda:
        return None  # a CUDA major alone does not say which nvcc the build needs
    rows = _cuda_rows(("devel", "cudnn-devel"), cuda, "digest")
    if not rows:
        return None
    row = min(rows, key=lambda row: (row["flavor"] != "devel", row["os"] != "ubuntu24.04", row["tag"]))
    return _image(row, f"carries nvcc for CUDA {row['cuda']}")
