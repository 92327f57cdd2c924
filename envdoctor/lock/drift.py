"""``lock --check --resolve``: resolve again and say which versions moved."""

from __future__ import annotations

from envdoctor.fsio import read_text_input
from envdoctor.lock import LockOptions, LockPlan
from envdoctor.lock.backends import LockRequest, backend
from envdoctor.lock.model import Lock
from envdoctor.requirements.model import RequirementSet


def drift(requirements: RequirementSet, plans: list[LockPlan], options: LockOptions) -> list[str]:
    resolver = backend(options.backend)
    problems = []
    for plan in plans:
        path = plan.pylock_path(options.output_dir)
        locked = Lock.read(read_text_input(str(path)), str(path))
        request = LockRequest(requirements, plan.target, plan.steering, options.exclude_newer)
        resolved = resolver.resolve(request)  # a resolver that gave no answer raises: exit 2, not drift
        if resolved.lock is None:
            error = resolved.error or "no set of versions fits"
            problems.append(f"{path}: the inputs no longer resolve: {error.splitlines()[-1]}")
            continue
        old = {p.name: p.version for p in locked.packages}
        new = {p.name: p.version for p in resolved.lock.packages}
        moved = [
            f"{name} {old.get(name, '-')} -> {new.get(name, '-')}"
            for name in sorted(old | new)
            if old.get(name) != new.get(name)
        ]
        if moved:
            problems.append(f"{path}: a fresh resolution differs: {'; '.join(moved)}")
    return problems
