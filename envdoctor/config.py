"""``[tool.envdoctor]`` in the project's ``pyproject.toml``: defaults the command line can override."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from envdoctor.errors import InputError
from envdoctor.findings import Severity

_KEYS = frozenset({"ignore", "fail-on", "host"})


class Config(NamedTuple):
    ignore: frozenset[str] = frozenset()
    fail_on: Severity | None = None
    hosts: tuple[str, ...] = ()


def load_config(folder: Path) -> Config:
    """The configuration in ``folder/pyproject.toml``; an empty one if there is none."""
    path = folder / "pyproject.toml"
    if not path.is_file():
        return Config()
    from envdoctor.fsio import read_text_input
    from envdoctor.requirements.pyproject import load_toml

    shown = str(path.relative_to(folder)) if folder == Path() else str(path)
    table = load_toml(read_text_input(str(path)), shown).get("tool", {}).get("envdoctor", {})
    if not isinstance(table, dict):
        raise InputError(shown, "[tool.envdoctor] must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise InputError(shown, f"[tool.envdoctor]: unknown key(s) {', '.join(sorted(unknown))}")
    ignore = table.get("ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(code, str) for code in ignore):
        raise InputError(shown, "[tool.envdoctor] ignore must be a list of codes or categories")
    fail_on = table.get("fail-on")
    if fail_on is not None and fail_on not in ("error", "warning", "info"):
        raise InputError(shown, "[tool.envdoctor] fail-on must be error, warning or info")
    hosts = table.get("host", [])
    hosts = [hosts] if isinstance(hosts, str) else hosts
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise InputError(shown, "[tool.envdoctor] host must be a profile path or a list of them")
    base = path.parent
    return Config(
        ignore=frozenset(ignore),
        fail_on=Severity.parse(fail_on) if fail_on else None,
        hosts=tuple(str(base / host) if folder != Path() else host for host in hosts),
    )
