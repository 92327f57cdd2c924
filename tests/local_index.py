"""A local package index for resolution tests: tiny wheels carrying real packages' metadata.

Each ``tests/fixtures/index/*.json`` holds, for one real release, the file name of the wheel a
resolver would pick and that wheel's METADATA headers (recorded by ci/record-index). The wheels
built here have that name and that metadata, and no code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

from packaging.utils import parse_wheel_filename

RECORDS = Path(__file__).parent / "fixtures" / "index"


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(record: dict[str, object], folder: Path) -> Path:
    filename = str(record["filename"])
    _, _, _, tags = parse_wheel_filename(filename)
    distribution = "-".join(filename.split("-")[:2])
    metadata = "".join(f"{key}: {value}\n" for key, value in record["metadata"]) + "\n"  # type: ignore[attr-defined]
    wheel = "Wheel-Version: 1.0\nGenerator: envdoctor-tests\nRoot-Is-Purelib: false\n"
    wheel += "".join(f"Tag: {tag}\n" for tag in sorted(str(t) for t in tags))
    files = {f"{distribution}.dist-info/METADATA": metadata.encode(), f"{distribution}.dist-info/WHEEL": wheel.encode()}
    record_path = f"{distribution}.dist-info/RECORD"
    lines = [f"{name},{_digest(data)},{len(data)}" for name, data in files.items()] + [f"{record_path},,"]
    files[record_path] = ("\n".join(lines) + "\n").encode()
    target = folder / filename
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 2, 2, 0, 0, 0))
            archive.writestr(info, data)
    return target


def build_index(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(RECORDS.glob("*.json")):
        build_wheel(json.loads(path.read_text()), folder)
    return folder


PYTORCH_RECORDS = Path(__file__).parent / "fixtures" / "pytorch-index"


def build_pytorch_index(folder: Path) -> Path:
    """The stand-in PyTorch index: one flat folder of torch builds per variant (cu118, cu126...)."""
    for variant in sorted(p for p in PYTORCH_RECORDS.iterdir() if p.is_dir()):
        target = folder / variant.name
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(variant.glob("*.json")):
            build_wheel(json.loads(path.read_text()), target)
    return folder
