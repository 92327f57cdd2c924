"""A resolver's explanation of failure, as envdoctor reports it: the audit (ED204) and the lock
both say it this way."""

from __future__ import annotations

import re
from typing import NamedTuple

from envdoctor.safety import printable

_NAME = re.compile(r"\b(nvidia-[a-z0-9-]+-cu\d+|[a-z][a-z0-9._-]*)(?:==|>=|<=|!=|<|>)")


class Unsatisfiable(NamedTuple):
    message: str
    packages: tuple[str, ...]
    fix: str


def unsatisfiable(explanation: str) -> Unsatisfiable:
    # The resolver's words are quoted: no escape byte of theirs reaches a terminal or a report.
    text = printable(" ".join(line.strip() for line in explanation.splitlines() if line.strip()))
    named = list(dict.fromkeys(match.group(1) for match in _NAME.finditer(text)))
    clashing = [name for name in named if name.startswith("nvidia-")]
    message = f"no set of versions satisfies the requirements: {text}"
    if clashing:
        message = f"the requirements pin conflicting CUDA wheels ({', '.join(clashing)}); " + message
    fix = (
        "relax or change the pins the explanation names; for frameworks that pin different nvidia-* wheels, "
        "install them in separate environments"
    )
    return Unsatisfiable(message, tuple(named[:8]), fix)
