"""``lock --check --resolve``: resolve again and say which versions moved."""

from __future__ import annotations

from envdoctor.fsio import read_text_input
from envdoctor.lock import LockOptions, LockPlan
from envdoctor.lock.backends import BACKENDS, LockRequest
from envdoctor.lock.render import parse_pylock
from envdoctor.requirements.model import RequirementSet


def drift(requirements: RequirementSet, plans: list[LockPlan], options: LockOptions) -> list[str]:
    backend = BACKENDS[options.backend]()
    problems = []
    for plan in plans:
        path = plan.pylock_path(options.output_dir)
        locked = parse_pylock(_body(read_text_input(str(path))))
        request = LockRequest(requirements, plan.target, plan.steering, options.exclude_newer)
        resolved = backend.resolve(request)  # a resolver that gave no answer raises: exit 2, not drift
        if resolved.error is not None:
            problems.append(f"{path}: the inputs no longer resolve: {resolved.error.splitlines()[-1]}")
            continue
        fresh = parse_pylock(resolved.pylock)
        old = {p.name: p.version for p in locked}
        new = {p.name: p.version for p in fresh}
        moved = [
            f"{name} {old.get(name, '-')} -> {new.get(name, '-')}"
            for name in sorted(old | new)
            if old.get(name) != new.get(name)
        ]
        if moved:
            problems.append(f"{path}: a fresh resolution differs: {'; '.join(moved)}")
    return problems


def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))
