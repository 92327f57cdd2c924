"""The live environment of a Python interpreter: what ``--installed`` audits."""

from __future__ import annotations

import json
import subprocess

from envdoctor.errors import InputError
from envdoctor.requirements.model import Form, Location, Requirement
from envdoctor.requirements.requirements_txt import parse_requirement_text

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


def installed_requirements(python: str) -> tuple[list[Requirement], str]:
    """One ``name==version`` requirement per distribution installed for ``python``."""
    location_name = f"<installed: {python}>"
    try:
        completed = subprocess.run(
            [python, "-I", "-c", _LIST_DISTRIBUTIONS], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(python, f"cannot run this Python: {exc}") from None
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(python, f"listing its packages failed: {last}")
    try:
        listing = json.loads(completed.stdout)
    except ValueError:
        raise InputError(python, "listing its packages printed something other than JSON") from None
    requirements = []
    for name, version in listing["packages"]:
        requirement = parse_requirement_text(f"{name}=={version}", Location(location_name))
        if requirement.form is Form.NAMED:
            requirements.append(requirement)
    return requirements, str(listing["python"])
