"""``[tool.envdoctor]`` in the project's ``pyproject.toml``: defaults the command line can override.

The file is read by every command that takes the defaults (audit, lock, the Action), whatever it
is asked about, so its shape is checked in full here: a bad value is one line naming the file,
never an error deep in a command. The rest of the file is not envdoctor's and is not judged,
except the ``[tool]`` table that must hold ours.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from envdoctor.errors import InputError
from envdoctor.safety import has_control, quote, snippet

if TYPE_CHECKING:
    # Imported where a fail-on is read: envdoctor.findings imports the requirement readers.
    from envdoctor.findings import Severity

_KEYS = frozenset({"ignore", "fail-on", "host", "target"})
_SEVERITIES = ("error", "warning", "info")


class Config(NamedTuple):
    ignore: frozenset[str] = frozenset()
    fail_on: Severity | None = None
    hosts: tuple[str, ...] = ()
    # The stage of a Dockerfile to judge (docker build --target), where --target does not say.
    target: str | None = None


def load_config(folder: Path) -> Config:
    """The configuration in ``folder/pyproject.toml``; an empty one if there is none."""
    path = folder / "pyproject.toml"
    if not path.is_file():
        return Config()
    from envdoctor.fsio import read_text_input
    from envdoctor.structured import parse_toml

    shown = str(path.relative_to(folder)) if folder == Path() else str(path)
    table = _table(parse_toml(read_text_input(str(path)), shown), shown)
    unknown = set(table) - _KEYS
    if unknown:
        names = ", ".join(snippet(name, 20) for name in sorted(unknown)[:5])
        raise InputError(shown, f"[tool.envdoctor]: unknown key(s) {names}")
    ignore = _strings(table.get("ignore", []), shown, "ignore must be a list of codes or categories")
    for index, item in enumerate(ignore):
        known = known_code(item)
        if known is None:
            raise InputError(shown, f"[tool.envdoctor] ignore: {quote(item)} {NOT_A_CODE}")
        ignore[index] = known
    fail_on = table.get("fail-on")
    if fail_on is not None and (not isinstance(fail_on, str) or fail_on not in _SEVERITIES):
        raise InputError(shown, "[tool.envdoctor] fail-on must be error, warning or info")
    hosts = table.get("host", [])
    hosts = [hosts] if isinstance(hosts, str) else hosts
    hosts = _strings(hosts, shown, "host must be a profile path or a list of them")
    target = table.get("target")
    if target is not None and (not isinstance(target, str) or not target or has_control(target) or " " in target):
        raise InputError(shown, "[tool.envdoctor] target must be a Dockerfile stage's name")
    base = path.parent
    from envdoctor.findings import Severity

    return Config(
        ignore=frozenset(ignore),
        fail_on=Severity.parse(fail_on) if fail_on else None,
        hosts=tuple(str(base / host) if folder != Path() else host for host in hosts),
        target=target,
    )


NOT_A_CODE = "is not a code (ED101) or category (driver-too-old): envdoctor explain lists them"


def known_code(value: str) -> str | None:
    """``value`` as the code (ED101, any case) or category (driver-too-old) it names; None if it names
    neither: an ignore that matches nothing would silently ignore nothing, as ruff refuses one."""
    from envdoctor.codes import catalogue  # imports the findings: only when an ignore is given

    codes = catalogue()
    if value.upper() in codes:
        return value.upper()
    categories = {doc.category for doc in codes.values()}
    return value.lower() if value.lower() in categories else None


def checked_ignore(values: list[str] | None, flag: str = "--ignore") -> frozenset[str]:
    """The codes and categories given as ``flag``; a UsageError (exit 2) naming the first unknown one."""
    from envdoctor.errors import UsageError

    known = set()
    for value in values or ():
        code = known_code(value)
        if code is None:
            raise UsageError(f"{flag} {quote(value)} {NOT_A_CODE}")
        known.add(code)
    return frozenset(known)


def _table(data: dict[str, Any], shown: str) -> dict[str, Any]:
    """``[tool.envdoctor]``, or an empty table; InputError if ``tool`` or it is not a table."""
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise InputError(shown, "tool must be a table (it holds [tool.envdoctor])")
    table = tool.get("envdoctor", {})
    if not isinstance(table, dict):
        raise InputError(shown, "[tool.envdoctor] must be a table")
    return table


def _strings(value: Any, shown: str, expected: str) -> list[str]:
    """``value`` if it is a list of non-empty strings on one line each, else InputError."""
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise InputError(shown, f"[tool.envdoctor] {expected}")
    for item in value:
        if has_control(item):
            raise InputError(shown, f"[tool.envdoctor] {quote(item)} holds a control character")
    return value
