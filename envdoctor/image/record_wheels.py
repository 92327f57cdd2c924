"""Record the wheels built in an image's wheels stage as hash-pinned requirements.

`envdoctor dockerfile` copies this file into the build context; the wheels stage runs it with the
image's own Python (standard library only), and the next stage installs the wheels with
--require-hashes from what it wrote, like every other locked package. The list is kept in the
environment as built-wheels.lock and printed into the build log.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

RECORD = "built-wheels.lock"


def record(folder: Path) -> str:
    lines = []
    for wheel in sorted(folder.glob("*.whl")):
        # A wheel's file name is NAME-VERSION-...; neither part holds a dash.
        name, version = wheel.name.split("-")[:2]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lines.append(f"{name}=={version} --hash=sha256:{digest}")
    if not lines:
        raise SystemExit(f"no wheel was built in {folder}")
    text = "".join(line + "\n" for line in lines)
    (folder / RECORD).write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    sys.stdout.write(record(Path(sys.argv[1])))
