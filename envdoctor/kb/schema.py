"""The shape of every knowledge-base table, checked when the base is loaded.

A schema names each field's kind; the loader parses versions and specifiers with
``packaging`` so that a malformed row fails loudly in ``envdoctor kb check`` and in the tests.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

_CAPABILITY = re.compile(r"^\d{1,2}\.\d{1,2}$")
_VARIANT = re.compile(r"^(cpu|cu\d{2,3}|rocm[\d.]+|xpu)$")


class RowError(ValueError):
    """A row does not fit its table's schema."""


def _version(value: Any) -> None:
    if not isinstance(value, str):
        raise RowError("expected a version string")
    try:
        Version(value)
    except InvalidVersion:
        raise RowError(f"{value!r} is not a PEP 440 version") from None


def _specifier(value: Any) -> None:
    if not isinstance(value, str):
        raise RowError("expected a specifier string")
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        raise RowError(f"{value!r} is not a PEP 440 specifier") from None


def _requirement(value: Any) -> None:
    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(value, str):
        raise RowError("expected a requirement string")
    try:
        Requirement(value)
    except InvalidRequirement:
        raise RowError(f"{value!r} is not a requirement") from None


def _text(value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RowError("expected a non-empty string")


# The kinds of incompatibilities rows (the header of incompatibilities.toml says what each means);
# the *-pin-clash kinds are pins both packages declare, which the ED203 rule judges apart; a keras3
# row's fix is a third package (tf-keras) whose presence in the set avoids the break.
CONFLICT_KINDS = (
    "numpy2-abi",
    "numpy124-aliases",
    "protobuf4-descriptors",
    "removed-api",
    "cudnn-pin-clash",
    "nccl-pin-clash",
    "keras3",
    "undeclared-floor",
    "protobuf-gencode",
)


def _conflict_kind(value: Any) -> None:
    if value not in CONFLICT_KINDS:
        raise RowError(f"expected one of {', '.join(CONFLICT_KINDS)}")


# What a build tool compares of the host's nvcc and torch's CUDA (cuda.toml nvcc_build): the
# major version only, or major and minor both.
NVCC_COMPARES = ("major", "minor")


def _nvcc_compares(value: Any) -> None:
    if value not in NVCC_COMPARES:
        raise RowError(f"expected one of {', '.join(NVCC_COMPARES)}")


def _url(value: Any) -> None:
    if not isinstance(value, str) or not value.startswith("https://") or " " in value:
        raise RowError("expected an https URL")


def _date(value: Any) -> None:
    try:
        datetime.date.fromisoformat(str(value))
    except ValueError:
        raise RowError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _integer(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError("expected a whole number")


def _integers(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise RowError("expected a list of whole numbers")
    for item in value:
        _integer(item)


def _boolean(value: Any) -> None:
    if not isinstance(value, bool):
        raise RowError("expected true or false")


def _capability(value: Any) -> None:
    if not isinstance(value, str) or not _CAPABILITY.match(value):
        raise RowError(f"{value!r} is not a compute capability like 8.6")


def _capabilities(value: Any) -> None:
    if not isinstance(value, list):
        raise RowError("expected a list of compute capabilities")
    for item in value:
        _capability(item)


def _variants(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and _VARIANT.match(v) for v in value):
        raise RowError("expected a list of build variants like cu121, cpu")


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _digest(value: Any) -> None:
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise RowError(f"{value!r} is not a sha256:<64 hex> digest")


# A musllinux wheel is its own platform: a glibc build does not load on musl, nor the reverse.
_PLATFORM = re.compile(r"^(any|(linux|macos|windows)-(x86_64|aarch64|arm64)|linux-(x86_64|aarch64)-musl)$")


def _platforms(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and _PLATFORM.match(v) for v in value):
        raise RowError("expected a list of platforms like linux-x86_64, macos-arm64, any")


_PYTHON_MINOR = re.compile(r"^[23]\.\d{1,2}$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _python_minor(value: Any) -> None:
    if not isinstance(value, str) or not _PYTHON_MINOR.match(value):
        raise RowError(f"{value!r} is not a Python minor like 3.12")


def _python_minors(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise RowError("expected a list of Python minors like 3.12")
    for item in value:
        _python_minor(item)


def _python_platforms(value: Any) -> None:
    """Pairs of a Python minor and a platform, like "3.13 macos-arm64"."""
    if not isinstance(value, list) or not value:
        raise RowError("expected a list of a Python minor and a platform, like 3.13 macos-arm64")
    for item in value:
        minor, _, platform = item.partition(" ") if isinstance(item, str) else ("", "", "")
        if not _PYTHON_MINOR.match(minor) or not _PLATFORM.match(platform):
            raise RowError(f"{item!r} is not a Python minor and a platform, like 3.13 macos-arm64")


_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
GLOBAL_KINDS = ("code", "data", "library")
# Which releases of a library read a file another release wrote: only that release (others may
# refuse it or behave differently), that release and newer ones, or those of its major version.
READS = ("same", "same-or-newer", "same-major")


def _dotted(value: Any) -> None:
    """A Python module or module.attribute path, as a pickle names a global."""
    if not isinstance(value, str) or not _DOTTED.match(value):
        raise RowError(f"{value!r} is not a dotted Python name like collections.OrderedDict")


def _dotted_names(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise RowError("expected a non-empty list of dotted names")
    for item in value:
        _dotted(item)


def _global_kind(value: Any) -> None:
    if value not in GLOBAL_KINDS:
        raise RowError(f"expected one of {', '.join(GLOBAL_KINDS)}")


def _reads(value: Any) -> None:
    if value not in READS:
        raise RowError(f"expected one of {', '.join(READS)}")


def _name(value: Any) -> None:
    """A project name in its canonical form (PEP 503), as lookups normalise the name they are given."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise RowError(f"{value!r} is not a canonical package name like scikit-learn")


def _versions(value: Any) -> None:
    """A non-empty list of PEP 440 versions (driver floors such as 470.57 or 525.85)."""
    if not isinstance(value, list) or not value:
        raise RowError("expected a list of versions")
    for item in value:
        _version(item)


def _pinned(value: Any) -> None:
    """A non-empty list of "name==version" pins: what an image carries installed, one exact
    version a package, under its canonical name (an NGC build such as 2.2.0a0+81ea7a4 as written)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    if not isinstance(value, list) or not value:
        raise RowError("expected a list of name==version pins")
    for item in value:
        try:
            requirement = Requirement(item) if isinstance(item, str) else None
        except InvalidRequirement:
            requirement = None
        specifiers = list(requirement.specifier) if requirement else []
        exact = len(specifiers) == 1 and specifiers[0].operator == "=="
        if requirement is None or not exact or requirement.extras or requirement.marker or requirement.url:
            raise RowError(f"{item!r} is not a pin like torch==2.1.0")
        if requirement.name != canonicalize_name(requirement.name):
            raise RowError(f"{item!r}: write the name in its canonical form, {canonicalize_name(requirement.name)}")
        _version(specifiers[0].version)


def _pins(value: Any) -> None:
    """A mapping of package name to an exact version or a specifier."""
    if not isinstance(value, dict) or not value:
        raise RowError("expected a table of package = version")
    for name, pin in value.items():
        if not isinstance(pin, str):
            raise RowError(f"{name}: expected a string")
        try:
            Version(pin)
        except InvalidVersion:
            _specifier(pin)


KINDS = {
    "version": _version,
    "specifier": _specifier,
    "requirement": _requirement,
    "text": _text,
    "conflict_kind": _conflict_kind,
    "url": _url,
    "date": _date,
    "int": _integer,
    "ints": _integers,
    "bool": _boolean,
    "capability": _capability,
    "capabilities": _capabilities,
    "variants": _variants,
    "pins": _pins,
    "pinned": _pinned,
    "versions": _versions,
    "platforms": _platforms,
    "digest": _digest,
    "python_minor": _python_minor,
    "python_minors": _python_minors,
    "python_platforms": _python_platforms,
    "name": _name,
    "nvcc_compares": _nvcc_compares,
    "dotted": _dotted,
    "dotted_names": _dotted_names,
    "global_kind": _global_kind,
    "reads": _reads,
}


class Table(NamedTuple):
    """One array of tables in a topic file: its required and optional fields, by kind."""

    name: str
    key: str
    required: dict[str, str]
    optional: Mapping[str, str] = MappingProxyType({})
    # Optional fields of which a row gives exactly one (a kernels row: sm, or min_capability).
    one_of: tuple[str, ...] = ()

    def check(self, row: dict[str, Any]) -> None:
        if self.one_of and sum(name in row for name in self.one_of) != 1:
            raise RowError(f"give exactly one of {', '.join(self.one_of)}")
        for name, kind in {**self.required, "source": "url", "checked": "date"}.items():
            if name not in row:
                raise RowError(f"missing {name}")
            self._check_field(name, kind, row[name])
        for name, value in row.items():
            if name in self.required or name in ("source", "checked"):
                continue
            optional_kind = self.optional.get(name)
            if optional_kind is None:
                raise RowError(f"unknown field {name!r}")
            self._check_field(name, optional_kind, value)

    @staticmethod
    def _check_field(name: str, kind: str, value: Any) -> None:
        try:
            KINDS[kind](value)
        except RowError as exc:
            raise RowError(f"{name}: {exc}") from None


class Topic(NamedTuple):
    name: str
    title: str
    tables: tuple[Table, ...]
    # A large topic whose rows are compiled one file per package (the value of this field), so
    # that an audit reads only the packages it judges.
    split_by: str | None = None


TOPICS: tuple[Topic, ...] = (
    Topic(
        "cuda",
        "CUDA toolkit releases and the NVIDIA drivers they need",
        (
            Table("release", "cuda", {"cuda": "version", "linux_driver": "version"}, {"windows_driver": "version"}),
            Table(
                "minor_compat",
                "cuda_major",
                {"cuda_major": "int", "linux_driver": "version", "limits": "text"},
                {"windows_driver": "version"},
            ),
            # Packages that compile CUDA code against the installed torch with the host's nvcc, and
            # refuse an nvcc whose CUDA differs from torch's (DeepSpeed's JIT ops, Apex).
            Table(
                "nvcc_build",
                "package",
                {
                    "package": "name",
                    "versions": "specifier",
                    "when": "text",
                    "compares": "nvcc_compares",
                    "error": "text",
                },
                {"url": "text", "only_with": "text"},
            ),
            # Libraries the nvidia-* wheels bring that a system copy on LD_LIBRARY_PATH shadows.
            Table("wheel_library", "library", {"library": "text", "wheel": "name", "folder": "text", "error": "text"}),
        ),
    ),
    Topic(
        "gpu_architectures",
        "GPU architectures by compute capability, and the CUDA releases that can target them",
        (
            Table(
                "architecture",
                "compute_capability",
                {"compute_capability": "capability", "name": "text"},
                {"first_cuda": "version", "last_cuda": "version", "renamed_to": "capability", "arch_source": "url"},
            ),
        ),
    ),
    Topic(
        "gpu_models",
        "GPU models and their compute capability",
        (
            Table(
                "model",
                "model",
                {"model": "text", "compute_capability": "capability"},
                {"architecture": "text"},
            ),
        ),
    ),
    Topic(
        "torch",
        "PyTorch releases: companions, Python, CUDA builds and the GPUs they carry kernels for",
        (
            Table(
                "release",
                "torch",
                {"torch": "version", "torchvision": "version", "python": "specifier", "variants": "variants"},
                {"torchaudio": "version"},
            ),
            Table(
                "pypi_build",
                "torch",
                {"torch": "version", "cuda": "version", "nvidia_pins": "pins"},
                {"cudnn": "version"},
            ),
            Table(
                "cuda_arch",
                "variant",
                {"torch": "specifier", "variant": "text", "sm": "capabilities", "ptx": "capabilities"},
            ),
            Table("numpy_build", "torch", {"torch": "specifier", "numpy_major": "int"}),
            # Companions built against torch's stable C++ ABI: one build serves every torch in range.
            Table("stable_abi", "companion", {"companion": "name", "versions": "specifier", "torch": "specifier"}),
            # The build PyPI's own torch wheels are on an OS whose PyPI wheels are all one variant.
            # cuda_builds: whether any index serves a CUDA build for the OS (macOS: none at all).
            Table(
                "pypi_platform", "os", {"os": "text", "torch": "specifier", "variant": "text"}, {"cuda_builds": "bool"}
            ),
        ),
    ),
    Topic(
        "tensorflow",
        "TensorFlow releases: tested CUDA and cuDNN, wheel requirements, platform support",
        (
            Table(
                "tested",
                "tensorflow",
                {"tensorflow": "version", "python": "specifier", "platform": "text"},
                {"cuda": "version", "cudnn": "version"},
            ),
            Table(
                "wheel",
                "tensorflow",
                {"tensorflow": "version", "requires_python": "specifier"},
                {"protobuf": "specifier", "numpy": "specifier", "and_cuda": "pins", "tensorboard": "specifier"},
            ),
            Table("platform", "fact", {"fact": "text", "tensorflow": "version", "text": "text"}),
        ),
    ),
    Topic(
        "jax",
        "JAX releases: jaxlib and the CUDA plugins that move with them",
        (
            Table(
                "release",
                "jax",
                {"jax": "version", "jaxlib": "specifier"},
                {"cuda_plugin": "pins", "cuda_pins": "pins", "requires_python": "specifier"},
            ),
        ),
    ),
    Topic(
        "gpu_packages",
        "Other GPU packages: the CUDA, cuDNN and torch their builds need",
        (
            Table(
                "build",
                "package",
                {"package": "text", "versions": "specifier", "note": "text"},
                {
                    "cuda_major": "int",
                    "cudnn_major": "int",
                    "loads_system_cuda": "bool",
                    "built_against": "requirement",
                },
            ),
            # The GPUs a package's builds run on, where its wheels' CUDA arch list is known (sm,
            # ptx) or only the oldest GPU it supports (min_capability). Torch's are torch.cuda_arch.
            Table(
                "kernels",
                "package",
                {"package": "text", "versions": "specifier"},
                {"sm": "capabilities", "ptx": "capabilities", "min_capability": "capability", "note": "text"},
                one_of=("sm", "min_capability"),
            ),
            # Packages whose prebuilt binaries exist per release of the package they are compiled
            # against (flash-attn's GitHub wheels, PyG's find-links pages): elsewhere pip builds the sdist.
            Table(
                "prebuilt",
                "package",
                {"package": "name", "versions": "specifier", "against": "requirement", "note": "text"},
                {"cuda_majors": "ints", "python": "specifier", "find_links": "text", "label": "text"},
            ),
        ),
    ),
    Topic(
        "incompatibilities",
        "Conflicts the packages' metadata does not declare",
        (
            Table(
                "conflict",
                "package",
                {
                    "kind": "conflict_kind",
                    "package": "text",
                    "versions": "specifier",
                    "breaks_with": "requirement",
                    "fix": "requirement",
                    "message": "text",
                },
                {"upgrade": "specifier"},
            ),
        ),
    ),
    Topic(
        "platforms",
        "The platforms each GPU package has wheels for on the package index",
        (
            Table("package", "name", {"name": "text", "versions": "specifier", "platforms": "platforms"}),
            # Hand-curated: the platforms a pure (py3-none-any) wheel's bundled libraries run on.
            Table(
                "native_code",
                "package",
                {"package": "name", "versions": "specifier", "platforms": "platforms", "note": "text"},
            ),
            # Hand-curated: the Pythons a release's sdist is known not to build on.
            Table(
                "source_build",
                "package",
                {"package": "name", "versions": "specifier", "python": "specifier", "note": "text"},
            ),
        ),
    ),
    Topic(
        "base_images",
        "Base images the Dockerfile generator may use",
        (
            Table(
                "image",
                "tag",
                {"repository": "text", "tag": "text", "flavor": "text"},
                {
                    # Optional: NVIDIA's framework release notes, as read, do not all name the OS.
                    "os": "text",
                    "cuda": "version",
                    "cudnn": "version",
                    "require_cuda": "text",
                    "size_mb": "int",
                    "python": "version",
                    "python_full": "version",
                    "digest": "digest",
                    "size_source": "url",
                    "digest_source": "url",
                    # The C library of the image's OS (manylinux floors), read from its package archive.
                    "glibc": "version",
                    "glibc_source": "url",
                    # Python distributions the image carries installed, and other libraries it ships.
                    "preinstalled": "pinned",
                    # pip is held to the preinstalled versions (NGC's /etc/pip/constraint.txt, from 25.03).
                    "pip_constraint": "bool",
                    "libraries": "pins",
                    # The Linux driver the release notes require, and the older data-center driver
                    # branches they still allow (forward compatibility), each "X (or later RX)".
                    "min_driver": "version",
                    "compat_drivers": "versions",
                    "min_capability": "capability",
                    "note": "text",
                },
            ),
        ),
    ),
    Topic(
        "artifacts",
        "What model files record of the libraries that wrote them, and what loading them calls",
        (
            # A key under which a library records its own release: in each object it pickles (and
            # skops stores), or, with ``format``, in that format's header (Keras' metadata.json).
            # ``reads``: which releases read what another wrote (default: only the same one).
            Table(
                "version_key",
                "key",
                {"key": "text", "package": "name"},
                {"format": "text", "reads": "reads", "why": "text"},
            ),
            # What a file format version needs of the library that reads it (LightGBM's version=v4).
            Table(
                "format_version",
                "format",
                {"format": "text", "value": "text", "package": "name", "requires": "specifier"},
                {"why": "text", "resave": "text"},
            ),
            # The newest ONNX operator set (ai.onnx), IR version and ai.onnx.ml operator set each
            # runtime release loads.
            Table(
                "onnx_runtime",
                "package",
                {"package": "name", "versions": "specifier", "opset": "int", "ir_version": "int"},
                {"how": "text", "ml_opset": "int"},
            ),
            # A global a pickle may name (a module, or module.attribute; the longest that matches
            # a name applies): code (runs commands or code when called), data (rebuilds plain
            # values), or library (a class of a known package). ``requires``: the package's
            # releases that have it (NumPy 2's numpy._core).
            Table(
                "global",
                "name",
                {"name": "dotted", "kind": "global_kind"},
                {"package": "name", "requires": "specifier", "why": "text", "shim": "text"},
            ),
            # What torch.load accepts with weights_only=True, the default in these releases.
            Table("weights_only", "torch", {"torch": "specifier", "names": "dotted_names"}),
        ),
    ),
    Topic(
        "releases",
        "Releases of the tracked packages on the package index: Python, platforms, glibc, sdist",
        (
            Table(
                "release",
                "package",
                {"package": "name", "version": "version", "platforms": "platforms", "sdist": "bool"},
                {
                    "requires_python": "specifier",
                    "pythons": "python_minors",
                    "abi3": "python_minor",
                    "missing": "python_platforms",
                    "glibc": "version",
                    "glibc_aarch64": "version",
                },
            ),
        ),
        split_by="package",
    ),
    Topic(
        "dependencies",
        "The requirements widely used packages declare on the packages the base tracks",
        (Table("requires", "package", {"package": "name", "versions": "specifier", "requires": "requirement"}),),
        split_by="package",
    ),
)

TOPIC_BY_NAME = {topic.name: topic for topic in TOPICS}
