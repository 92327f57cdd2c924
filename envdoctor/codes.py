"""The catalogue of finding codes (``codes.toml``): what each means, why it matters, the fix."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import NamedTuple

from envdoctor.findings import Severity
from envdoctor.tomlcompat import tomllib


class CodeDoc(NamedTuple):
    code: str
    category: str
    severity: Severity
    title: str
    summary: str
    why: str
    fix: str


@functools.cache
def catalogue() -> dict[str, CodeDoc]:
    with (Path(__file__).parent / "codes.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return {
        code: CodeDoc(
            code=code,
            category=entry["category"],
            severity=Severity.parse(entry["severity"]),
            title=entry["title"],
            summary=entry["summary"],
            why=" ".join(entry["why"].split()),
            fix=" ".join(entry["fix"].split()),
        )
        for code, entry in sorted(data.items())
    }


def doc(code: str) -> CodeDoc:
    return catalogue()[code]
