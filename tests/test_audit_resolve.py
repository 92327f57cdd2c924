"""``audit --resolve``: judged on the versions uv would really install.

Hermetic: uv resolves against the local index of real-shaped wheels (tests/local_index.py).
The tests marked ``network`` run the same cases against the live package index.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.audit.resolver import resolve_for_host
from envdoctor.audit.result import AuditReport
from envdoctor.audit.run import AuditOptions, run_audit
from envdoctor.findings import Severity
from envdoctor.host.profile import Gpu, HostProfile, Libc, Nvidia
from envdoctor.requirements import SourceOptions, load_requirement_set

HOST = HostProfile(
    os="linux",
    arch="x86_64",
    python="3.11.9",
    libc=Libc("glibc", "2.35"),
    nvidia=Nvidia(driver="550.54.15", cuda="12.4", gpus=(Gpu("NVIDIA A100-SXM4-40GB", "8.0"),)),
)


def resolved_audit(tmp_path: Path, lines: str, index: Path | None) -> AuditReport:
    header = f"--no-index\n--find-links {index}\n" if index else ""
    (tmp_path / "requirements.txt").write_text(header + lines)
    requirements = load_requirement_set([str(tmp_path / "requirements.txt")], SourceOptions())
    return run_audit(requirements, [("host", HOST)], AuditOptions(resolver=resolve_for_host))


def _case_2(report: AuditReport) -> None:
    finding = next(f for f in report.findings if f.code == "ED203")
    assert finding.category == "known-incompatibility" and finding.severity == Severity.ERROR
    assert finding.fix == "numpy<2"
    assert "numpy 2." in finding.message


def _case_3(report: AuditReport) -> None:
    finding = next(f for f in report.findings if f.code == "ED204")
    assert finding.category == "unsatisfiable"
    assert "conflicting CUDA wheels (nvidia-" in finding.message
    assert any(name.startswith("nvidia-") and name.endswith("-cu12") for name in finding.packages)


def _case_4(report: AuditReport) -> None:
    assert not [f for f in report.findings if f.severity == Severity.ERROR], report.findings


def test_case_2_numpy_2_picked_under_torch_2_2(tmp_path: Path, local_index: Path) -> None:
    _case_2(resolved_audit(tmp_path, "torch==2.2.0\nnumpy\n", local_index))


def test_case_3_torch_and_tensorflow_and_cuda_clash(tmp_path: Path, local_index: Path) -> None:
    _case_3(resolved_audit(tmp_path, "torch==2.2.0\ntensorflow[and-cuda]==2.16.1\n", local_index))


def test_case_4_plain_tensorflow_resolves_beside_torch(tmp_path: Path, local_index: Path) -> None:
    _case_4(resolved_audit(tmp_path, "torch==2.2.0\ntensorflow==2.16.1\n", local_index))


@pytest.mark.network
@pytest.mark.parametrize(
    ("lines", "verdict"),
    [
        ("torch==2.2.0\nnumpy\n", _case_2),
        ("torch==2.2.0\ntensorflow[and-cuda]==2.16.1\n", _case_3),
        ("torch==2.2.0\ntensorflow==2.16.1\n", _case_4),
    ],
)
def test_against_the_live_index(tmp_path: Path, lines: str, verdict: object) -> None:
    verdict(resolved_audit(tmp_path, lines, None))  # type: ignore[operator]
