"""The rules: each module one kind of check, each ``check(ctx)`` yielding findings.

Adding a rule is adding a module and a line here. ``HOST_RULES`` depend on the host and run once
per host; ``SET_RULES`` judge the requirement set alone and run once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from envdoctor.findings import Finding
from envdoctor.rules import (
    artifacts,
    companions,
    cuda_mismatch,
    driver,
    gpu_arch,
    gpu_unavailable,
    image,
    incompatibilities,
    not_judged,
    placement,
    platform_support,
    python_support,
    reproducibility,
    unsatisfiable,
)
from envdoctor.rules.context import AuditContext

Rule = Callable[[AuditContext], Iterator[Finding]]

HOST_RULES: tuple[Rule, ...] = (
    driver.check,
    gpu_arch.check,
    gpu_unavailable.check,
    cuda_mismatch.check,
    platform_support.check,
    python_support.check,
    incompatibilities.check,
    companions.check,
    unsatisfiable.check,
    not_judged.check,
    artifacts.check,
    placement.check,
)
SET_RULES: tuple[Rule, ...] = (reproducibility.check, image.check, artifacts.check_safety)
