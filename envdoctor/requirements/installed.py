"""The live environment of a Python interpreter: what ``--installed`` audits."""

from __future__ import annotations

import re
import subprocess
from typing import NamedTuple

from envdoctor.errors import InputError
from envdoctor.requirements.model import Form, Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text
from envdoctor.safety import printable, quote, snippet
from envdoctor.structured import parse_json

# Runs inside the audited interpreter; standard library only, Python 3.8 and later.
_LIST_DISTRIBUTIONS = """
import json, os, platform, sys
from importlib import metadata
seen = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if name and name.lower() not in seen:
        seen[name.lower()] = (name, dist.version, dist.requires or [], dist.read_text("direct_url.json"))
info = sys.implementation.version
implementation = "%d.%d.%d" % (info.major, info.minor, info.micro)
if info.releaselevel != "final":
    implementation += info.releaselevel[0] + str(info.serial)
environment = {
    "implementation_name": sys.implementation.name,
    "implementation_version": implementation,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({"python": sys.version.split()[0], "environment": environment, "packages": sorted(seen.values())}))
"""
TIMEOUT_S = 30.0
# A distribution's name and version as importlib.metadata gives them: one word each.
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]{0,199}")


class Installed(NamedTuple):
    """One distribution installed for an interpreter, as its metadata says."""

    name: str
    version: str
    # Its Requires-Dist lines, as written (markers and extras included).
    requires: tuple[str, ...]
    # PEP 610's direct_url.json where it was installed from a URL, a path or a VCS: not the index.
    direct_url: str | None


class Listing(NamedTuple):
    """What an interpreter has installed, its Python version, and its environment markers' values."""

    distributions: list[Installed]
    python: str
    environment: dict[str, str]


def installed_requirements(python: str) -> tuple[list[Requirement], str]:
    """One ``name==version`` requirement per distribution installed for ``python``."""
    location_name = f"<installed: {printable(python)}>"
    listing = installed_distributions(python)
    requirements = []
    for dist in listing.distributions:
        requirement = parse_requirement_text(f"{dist.name}=={dist.version}", Location(location_name))
        if requirement.form is Form.NAMED:
            requirements.append(requirement)
    return requirements, listing.python


def installed_distributions(python: str) -> Listing:
    """Every distribution installed for ``python``, its Python version and marker environment.

    What the interpreter prints is input like any file: anything but the expected JSON is an
    InputError naming the interpreter, never a traceback."""
    shown = printable(python)
    try:
        completed = subprocess.run(
            [python, "-I", "-c", _LIST_DISTRIBUTIONS], capture_output=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise InputError(shown, f"cannot run this Python: {snippet(str(exc), 200)}") from None
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(shown, f"listing its packages failed: {snippet(stderr[-1] if stderr else 'no output', 200)}")
    try:
        listing = parse_json(completed.stdout.decode("utf-8"), shown)
    except UnicodeDecodeError:
        raise InputError(shown, "listing its packages printed something other than UTF-8 text") from None
    except InputError as exc:
        raise InputError(shown, f"listing its packages printed something other than its JSON: {exc.message}") from None
    return _listing(listing, shown)


def _listing(listing: object, shown: str) -> Listing:
    """The distributions, Python version and marker environment of the listing, checked for shape."""
    wrong = InputError(
        shown, 'listing its packages printed JSON other than {"python": ..., "environment": {...}, "packages": [...]}'
    )
    if not isinstance(listing, dict):
        raise wrong
    packages, version, environment = listing.get("packages"), listing.get("python"), listing.get("environment")
    if not isinstance(packages, list) or not isinstance(version, str) or not _WORD.fullmatch(version):
        raise wrong
    if not isinstance(environment, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in environment.items()
    ):
        raise wrong
    found = []
    for entry in packages:
        if not (isinstance(entry, list) and len(entry) == 4 and all(isinstance(part, str) for part in entry[:2])):
            raise wrong
        name, package_version, requires, direct_url = entry
        if not _WORD.fullmatch(name) or not _WORD.fullmatch(package_version):
            raise InputError(
                shown,
                f"listing its packages gave {quote(name)} {quote(package_version)}: not a name and version",
            )
        if not isinstance(requires, list) or not all(isinstance(line, str) for line in requires):
            raise wrong
        if direct_url is not None and not isinstance(direct_url, str):
            raise wrong
        found.append(Installed(name, package_version, tuple(requires), direct_url))
    return Listing(found, version, dict(environment))
