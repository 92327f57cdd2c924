"""The live environment of a Python interpreter: what ``--installed`` audits."""

from __future__ import annotations

import re
import subprocess

from envdoctor.errors import InputError
from envdoctor.requirements.model import Form, Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text
from envdoctor.safety import printable, quote, snippet
from envdoctor.structured import parse_json

# Runs inside the audited interpreter; standard library only, Python 3.8 and later.
_LIST_DISTRIBUTIONS = """
import json, sys
from importlib import metadata
seen = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if name and name.lower() not in seen:
        seen[name.lower()] = (name, dist.version)
print(json.dumps({"python": sys.version.split()[0], "packages": sorted(seen.values())}))
"""
TIMEOUT_S = 30.0
# A distribution's name and version as importlib.metadata gives them: one word each.
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]{0,199}")


def installed_requirements(python: str) -> tuple[list[Requirement], str]:
    """One ``name==version`` requirement per distribution installed for ``python``.

    What the interpreter prints is input like any file: anything but the expected JSON is an
    InputError naming the interpreter, never a traceback."""
    shown = printable(python)
    location_name = f"<installed: {shown}>"
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
    packages, version = _listing(listing, shown)
    requirements = []
    for name, package_version in packages:
        requirement = parse_requirement_text(f"{name}=={package_version}", Location(location_name))
        if requirement.form is Form.NAMED:
            requirements.append(requirement)
    return requirements, version


def _listing(listing: object, shown: str) -> tuple[list[tuple[str, str]], str]:
    """The (name, version) pairs and the Python version of the listing, checked for shape."""
    wrong = InputError(shown, 'listing its packages printed JSON other than {"python": ..., "packages": [...]}')
    if not isinstance(listing, dict):
        raise wrong
    packages, version = listing.get("packages"), listing.get("python")
    if not isinstance(packages, list) or not isinstance(version, str) or not _WORD.fullmatch(version):
        raise wrong
    pairs = []
    for entry in packages:
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) for part in entry)):
            raise wrong
        name, package_version = entry
        if not _WORD.fullmatch(name) or not _WORD.fullmatch(package_version):
            raise InputError(
                shown,
                f"listing its packages gave {quote(name)} {quote(package_version)}: not a name and version",
            )
        pairs.append((name, package_version))
    return pairs, version
