"""``audit --resolve``: the versions uv would install for each host."""

from __future__ import annotations

from collections.abc import Mapping

from packaging.utils import NormalizedName
from packaging.version import Version

from envdoctor.host.profile import HostProfile
from envdoctor.requirements.model import RequirementSet
from envdoctor.resolve.target import target_of
from envdoctor.resolve.uv import compile_requirements


def requirement_lines(requirements: RequirementSet) -> tuple[list[str], list[str]]:
    """The set as requirement lines for a resolver: what is asked for, and the constraints."""
    asked = [r.text for r in requirements.requirements if not r.constraint]
    constraints = [r.text for r in requirements.requirements if r.constraint]
    return list(dict.fromkeys(asked)), list(dict.fromkeys(constraints))


def resolve_for_host(
    requirements: RequirementSet, host: HostProfile
) -> tuple[Mapping[NormalizedName, Version], str | None]:
    asked, constraints = requirement_lines(requirements)
    compiled = compile_requirements(asked, constraints, target_of(host, "host"), requirements.indexes)
    return compiled.pins, compiled.error
