"""ED302 python-unsupported: no distribution for the host's Python version."""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.audit.context import AuditContext
from envdoctor.findings import Finding
from envdoctor.kb import Row, load_topic

CODE = "ED302"
_PYTHON_TAG = re.compile(r"^(?P<version>3\.\d+(?:\.\d+)?)(?:-|$)")

# (package, topic, table, version field, Python field): where the base says which Pythons a release supports.
_SUPPORT_TABLES = (
    ("torch", "torch", "release", "torch", "python"),
    ("tensorflow", "tensorflow", "tested", "tensorflow", "python"),
    ("jax", "jax", "release", "jax", "requires_python"),
)


def check(ctx: AuditContext) -> Iterator[Finding]:
    image_python = _image_python(ctx)
    where = f"the image {image_python[1]} has" if image_python else "the host has"
    text = image_python[0] if image_python else ctx.host.python
    if text is None:
        return
    try:
        python = Version(text)
    except InvalidVersion:
        return
    python_minor = Version(".".join(str(p) for p in python.release[:2]))
    for package, topic, table, version_field, python_field in _SUPPORT_TABLES:
        requirement = ctx.find(package)
        version = ctx.version_of(package)
        if requirement is None or version is None:
            continue
        rows = [row for row in load_topic(topic, table) if python_field in row and _platform_ok(row)]
        row = _row_for(rows, version_field, Version(version.public))
        if row is None or SpecifierSet(row[python_field]).contains(python_minor, prereleases=True):
            continue
        first = _first_supporting(rows, version_field, python_field, python_minor)
        fix = f"{package}=={first} is the first release for Python {python_minor}" if first else None
        yield ctx.finding(
            CODE,
            f"{package} {version} supports Python {row[python_field]}; {where} Python {text}",
            requirement=requirement,
            fix=fix or f"use a Python that {package} {version} supports ({row[python_field]})",
            references=(row["source"],),
        )


def _image_python(ctx: AuditContext) -> tuple[str, str] | None:
    """The Python of a Dockerfile's final image, when it is an official python:X.Y image."""
    images = ctx.requirements.images
    if not images or images[-1].repository not in ("python", "docker.io/library/python", "library/python"):
        return None
    match = _PYTHON_TAG.match(images[-1].tag or "")
    return (match.group("version"), images[-1].reference) if match else None


def _platform_ok(row: Row) -> bool:
    return bool(row.get("platform", "linux") == "linux")


def _row_for(rows: list[Row], field: str, version: Version) -> Row | None:
    exact = [row for row in rows if Version(row[field]) == version]
    if exact:
        return exact[0]
    same_minor = [row for row in rows if Version(row[field]).release[:2] == version.release[:2]]
    return same_minor[0] if same_minor else None


def _first_supporting(rows: list[Row], field: str, python_field: str, python: Version) -> str | None:
    supporting = [Version(row[field]) for row in rows if SpecifierSet(row[python_field]).contains(python)]
    return str(min(supporting)) if supporting else None
