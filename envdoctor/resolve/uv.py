"""uv as a subprocess: ``uv pip compile`` for one target, with a timeout."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.errors import EnvdoctorError
from envdoctor.requirements.model import IndexOptions
from envdoctor.resolve.target import Target

TIMEOUT_S = 300.0
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


class ResolverUnavailable(EnvdoctorError):
    """uv could not be run at all."""


@dataclass(frozen=True)
class Compiled:
    """uv's answer: the pinned lines it wrote, or its explanation of why it could not."""

    output: str = ""
    error: str | None = None
    pins: dict[NormalizedName, Version] = field(default_factory=dict)


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise ResolverUnavailable("the uv package is not installed (pip install uv)") from None
    return str(find_uv_bin())


def index_arguments(index: IndexOptions) -> list[str]:
    arguments: list[str] = []
    if index.index_url:
        arguments += ["--index-url", index.index_url]
    for url in index.extra_index_urls:
        arguments += ["--extra-index-url", url]
    for link in index.find_links:
        arguments += ["--find-links", link]
    if index.no_index:
        arguments.append("--no-index")
    return arguments


def compile_requirements(
    requirements: list[str],
    constraints: list[str],
    target: Target,
    index: IndexOptions,
    *,
    extra: list[str] | None = None,
    timeout: float = TIMEOUT_S,
) -> Compiled:
    """Resolve ``requirements`` (requirement lines) for ``target``."""
    with tempfile.TemporaryDirectory(prefix="envdoctor-") as folder:
        inputs = Path(folder) / "requirements.in"
        inputs.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        argv = [
            uv_binary(), "pip", "compile", str(inputs), "--quiet", "--no-header", "--no-annotate",
            "--python-version", target.python, "--python-platform", target.platform,
            *index_arguments(index), *(extra or []),
        ]  # fmt: skip
        if constraints:
            constraint_file = Path(folder) / "constraints.txt"
            constraint_file.write_text("\n".join(constraints) + "\n", encoding="utf-8")
            argv += ["--constraint", str(constraint_file)]
        environment = {**os.environ, "UV_NO_PROGRESS": "1", "NO_COLOR": "1"}
        try:
            completed = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env=environment, check=False
            )
        except subprocess.TimeoutExpired:
            return Compiled(error=f"uv did not finish within {timeout:g} s")
        except OSError as exc:
            raise ResolverUnavailable(f"cannot run uv: {exc}") from None
    if completed.returncode != 0:
        return Compiled(error=_explanation(completed.stderr or completed.stdout))
    return Compiled(output=completed.stdout, pins=parse_pins(completed.stdout))


def parse_pins(text: str) -> dict[NormalizedName, Version]:
    pins: dict[NormalizedName, Version] = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            try:
                pins[canonicalize_name(match.group("name"))] = Version(match.group("version"))
            except InvalidVersion:
                continue
    return pins


def _explanation(stderr: str) -> str:
    """uv's own words, less the noise: the lines after 'error:' or the hint."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    return "\n".join(lines) or "uv failed without saying why"
