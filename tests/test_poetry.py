"""poetry.lock as Poetry installs from it, on real projects' locks (tests/fixtures/poetry/PROVENANCE.md),
judged on stated hosts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main
from envdoctor.requirements import detect_kind, uvlock
from envdoctor.requirements.model import Requirement
from envdoctor.requirements.poetrylock import installed_groups, parse_poetry_lock, poetry_specifiers, python_specifier

POETRY = Path(__file__).parent / "fixtures" / "poetry"
CU121 = POETRY / "pytorch-template-cu121" / "poetry.lock"
LOCK11 = POETRY / "pytorch-template-lock11" / "poetry.lock"
DOCLING = POETRY / "docling" / "poetry.lock"
PRIVATE_GPT = POETRY / "private-gpt" / "poetry.lock"
V100 = [
    "--os",
    "linux",
    "--arch",
    "x86_64",
    "--python",
    "3.10",
    "--driver",
    "470.82.01",
    "--gpu",
    "Tesla V100-SXM2-32GB",
]
# A Linux x86_64 host with an A100 and a CUDA 11.8 driver: no CUDA 12 build runs on it.
DRIVER_520 = ["--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "520.61.05", "--gpu", "8.0"]


def lock(path: Path, extras: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> list[Requirement]:
    return parse_poetry_lock(path.read_text(), str(path), extras, groups)


def texts(requirements: list[Requirement], name: str) -> list[str]:
    return [r.text for r in requirements if r.name == name]


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["audit", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_poetry_lock_is_its_own_kind() -> None:
    assert detect_kind("project/poetry.lock") == "poetrylock"


def test_lock_20_takes_torch_from_the_source_the_extra_names() -> None:
    """narumiruna/pytorch-template (lock 2.0): torch locked three times (PyPI, +cpu, +cu121); the
    project's torch line is for --extra cuda from the cu121 source, the optional cpu group's for cpu."""
    plain = lock(CU121)
    assert texts(plain, "torch") == ["torch==2.3.1"]
    cuda = lock(CU121, extras=("cuda",))
    (torch,) = [r for r in cuda if r.name == "torch"]
    assert (torch.text, torch.variant, torch.location.line) == ("torch==2.3.1+cu121", "cu121", 1437)
    assert torch.source == "https://download.pytorch.org/whl/cu121 (poetry.lock)"
    assert torch.hashes and all(h.startswith("sha256:") for h in torch.hashes)
    assert torch.wheels and all(w.startswith("torch-2.3.1+cu121-") for w in torch.wheels)
    assert texts(cuda, "torchvision") == ["torchvision==0.18.1+cu121"]
    cpu = lock(CU121, extras=("cpu",), groups=("cpu",))
    assert texts(cpu, "torch") == ["torch==2.3.1+cpu"] and not texts(cpu, "nvidia-cublas-cu12")
    # The CUDA wheels PyPI's torch pulls in come where its edge's marker says.
    (cublas,) = [r for r in plain if r.name == "nvidia-cublas-cu12"]
    assert str(cublas.marker) == 'platform_machine == "x86_64" and platform_system == "Linux"'


def test_default_groups_are_poetrys() -> None:
    """poetry install installs every group not marked optional (dev here), not the optional cpu group."""
    assert installed_groups(CU121.read_text(), str(CU121)) == ("dev", "main")
    assert texts(lock(CU121), "pytest") == ["pytest==8.2.2"]
    assert installed_groups(CU121.read_text(), str(CU121), ("cpu",)) == ("cpu", "dev", "main")


def test_lock_11_categories_without_the_pyproject(tmp_path: Path) -> None:
    """narumiruna/pytorch-template at `poetry init` (lock 1.1, files in [metadata.files]): with its
    pyproject, the legacy dev-dependencies install; the lock alone is its main category."""
    beside = lock(LOCK11)
    assert texts(beside, "torch") == ["torch==1.12.1"] and texts(beside, "pytest") == ["pytest==7.2.0"]
    (torch,) = [r for r in beside if r.name == "torch"]
    assert torch.hashes and "torch-1.12.1-cp310-cp310-manylinux1_x86_64.whl" in torch.wheels
    shutil.copy(LOCK11, tmp_path / "poetry.lock")
    alone = lock(tmp_path / "poetry.lock")
    assert texts(alone, "torch") == ["torch==1.12.1"] and not texts(alone, "pytest")


def test_audit_of_a_cu121_lock_on_a_cuda_11_driver(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = audit(capsys, str(CU121), "--extra", "cuda", *DRIVER_520)
    assert code == 1 and report["inputs"] == [{"path": str(CU121), "kind": "poetrylock"}]
    (torch,) = [f for f in report["findings"] if f["code"] == "ED101" and f["packages"][0].startswith("torch")]
    assert "2.3.1+cu121" in torch["message"] and torch["location"]["line"] == 1437
    _, cpu = audit(capsys, str(CU121), "--extra", "cpu", "--group", "cpu", *DRIVER_520)
    assert not [f for f in cpu["findings"] if f["code"] == "ED101"]


def test_a_locked_wheel_list_without_the_hosts_wheel_is_ed301(capsys: pytest.CaptureFixture[str]) -> None:
    """torch 2.3.1+cu121's locked files are Linux x86_64 and Windows wheels only: none for aarch64."""
    host = ["--os", "linux", "--arch", "aarch64", "--python", "3.11"]
    _, report = audit(capsys, str(CU121), "--extra", "cuda", *host)
    found = [f["packages"][0] for f in report["findings"] if f["code"] == "ED301" and "lock offers" in f["message"]]
    assert "torch==2.3.1+cu121" in found


LOCK_21 = """\
[[package]]
name = "torch"
version = "2.5.1+cu124"
optional = true
python-versions = ">=3.8"
groups = ["main"]
markers = {main = "extra == \\"gpu\\""}
files = [{file = "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl", hash = "sha256:00"}]

[package.source]
type = "legacy"
url = "https://download.pytorch.org/whl/cu124"
reference = "pytorch"

[[package]]
name = "pytest"
version = "8.3.4"
optional = false
python-versions = ">=3.8"
groups = ["dev"]
files = []

[extras]
gpu = ["torch"]

[metadata]
lock-version = "2.1"
python-versions = ">=3.10"
content-hash = "0"
"""


def test_lock_21_groups_and_markers(tmp_path: Path) -> None:
    """Lock 2.1 (Poetry 2): each package's groups and per-group markers, extra comparisons settled."""
    path = tmp_path / "poetry.lock"
    path.write_text(LOCK_21)
    assert lock(path) == []
    (torch,) = lock(path, extras=("gpu",))
    assert (torch.text, torch.variant, torch.marker, torch.location.line) == ("torch==2.5.1+cu124", "cu124", None, 1)
    assert texts(lock(path, groups=("dev",)), "pytest") == ["pytest==8.3.4"]


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("[[package]\n", (), "poetry.lock:1: not valid TOML"),
        ("[[package]]\nname = 'a'\nversion = '1'\n", (), "not a poetry.lock: no [metadata] table"),
        ("[metadata]\nlock-version = '3.0'\n", (), "lock-version '3.0': this reader knows 1.x and 2.x"),
        ("[metadata]\n[[package]]\nname = 3\n", (), "[[package]] needs a name and a version"),
        ("[metadata]\n[[package]]\nname = 'a'\nversion = 'x y'\n", (), "is not a version"),
        ("[metadata]\n[[package]]\nname = 'a'\nversion = '1'\ngroups = 'main'\n", (), "a: groups must be a list"),
        (
            "[metadata]\nlock-version = '2.1'\n[[package]]\nname = 'a'\nversion = '1'\ngroups = ['main']\n"
            "markers = 'os_name =='\n",
            (),
            "a: invalid marker 'os_name =='",
        ),
        ("[metadata]\n", ("--extra", "gpu"), "no extra named 'gpu'"),
        ("[metadata]\n", ("--group", "docs"), "no dependency group named 'docs'"),
        ("[metadata]\n[[package]]\nname = 'a'\nversion = '9" + "9" * 80 + "'\n", (), "holds a number of 81 digits"),
    ],
)
def test_hostile_locks_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "poetry.lock"
    path.write_text(text)
    code = main(["audit", str(path), *args, "--os", "linux", "--arch", "x86_64", "--python", "3.11"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and "\n" not in error


def test_a_huge_lock_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real bound (MAX_REQUIREMENTS) is too many tables for a quick test: the same check, lower.
    monkeypatch.setattr(uvlock, "MAX_REQUIREMENTS", 1_000)  # the lockfiles share one check (uvlock.package_tables)
    path = tmp_path / "poetry.lock"
    path.write_text("[metadata]\n" + "[[package]]\nname = 'a'\nversion = '1'\n" * 1_001)
    code = main(["audit", str(path), "--os", "linux", "--arch", "x86_64", "--python", "3.11"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and "more than 1,000 packages" in error and "\n" not in error


def installs(requirements: list[Requirement], system: str, machine: str, python: str) -> dict[str, str]:
    """name -> version of the locked packages whose markers hold in a whole PEP 508 environment."""
    environment = {
        "sys_platform": system,
        "platform_system": {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}[system],
        "os_name": "nt" if system == "win32" else "posix",
        "platform_machine": machine,
        "platform_release": "",
        "platform_version": "",
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "platform_python_implementation": "CPython",
        "python_version": python,
        "python_full_version": f"{python}.0",
        "extra": "",
    }
    found: dict[str, str] = {}
    for r in requirements:
        if r.marker is None or r.marker.evaluate(environment):
            assert r.name is not None and r.name not in found, f"{r.name} twice"
            found[r.name] = r.text.split("==")[1]
    return found


@pytest.mark.parametrize(
    ("groups", "system", "machine", "python", "expected"),
    [
        ((), "linux", "x86_64", "3.10", {"torch": "2.6.0", "numpy": "2.2.3", "scipy": "1.15.2", "triton": "3.2.0"}),
        ((), "linux", "x86_64", "3.9", {"torch": "2.6.0", "numpy": "2.0.2", "scipy": "1.13.1"}),
        ((), "darwin", "arm64", "3.12", {"torch": "2.6.0", "numpy": "2.2.3", "transformers": "4.49.0"}),
        # No --with mac_intel: Poetry takes torch 2.6.0 on Intel macOS too (and fails: no wheel there).
        ((), "darwin", "x86_64", "3.12", {"torch": "2.6.0", "numpy": "1.26.4", "transformers": "4.42.4"}),
        (("mac_intel",), "darwin", "x86_64", "3.12", {"torch": "2.2.2", "torchvision": "0.17.2", "sympy": "1.13.3"}),
        (("mac_intel",), "linux", "x86_64", "3.10", {"torch": "2.6.0", "torchvision": "0.21.0", "sympy": "1.13.1"}),
        (("mac_intel",), "win32", "AMD64", "3.11", {"torch": "2.6.0", "numpy": "2.2.3", "tokenizers": "0.21.1"}),
    ],
)
def test_lock_20_several_versions_one_per_environment(
    groups: tuple[str, ...], system: str, machine: str, python: str, expected: dict[str, str]
) -> None:
    """DS4SD/docling (lock 2.0, Poetry 1.8.5) locks numpy three times, torch twice, ...: in each
    environment exactly one version of each applies, the one Poetry 1.8.5's own installer takes there
    (checked against it: tests/fixtures/poetry/PROVENANCE.md); the nvidia-* wheels only where torch's do."""
    found = installs(lock(DOCLING, groups=groups), system, machine, python)
    assert {name: found.get(name) for name in expected} == expected
    cuda = {name: v for name, v in found.items() if name.startswith("nvidia-")}
    if system == "linux" and machine == "x86_64":
        assert cuda["nvidia-cublas-cu12"] == "12.4.5.8" and len(cuda) == 13  # torch 2.6.0's, as Poetry
    else:
        assert not cuda


def test_docling_on_linux_judges_the_torch_poetry_installs(capsys: pytest.CaptureFixture[str]) -> None:
    """The trial's V100 (Linux x86_64, Python 3.10, driver 470): torch 2.6.0 (not the Intel-macOS
    2.2.2) needs a newer driver; the lock's several versions are no conflict (no ED204)."""
    code, report = audit(capsys, str(DOCLING), *V100)
    codes = [f["code"] for f in report["findings"]]
    (torch,) = [f for f in report["findings"] if f["code"] == "ED101"]
    assert code == 1 and codes == ["ED101"]
    assert torch["packages"][0] == "torch==2.6.0" and torch["location"]["line"] == 6790
    assert "torch==2.6.0+cu118" in torch["fix"] and "2.2.2" not in torch["fix"]


@pytest.mark.parametrize(
    ("host", "wanted"),
    [
        (["--os", "linux", "--arch", "x86_64"], set()),  # Python unknown: numpy 2.0.2 or 2.2.3, no conflict
        (["--os", "macos", "--arch", "arm64", "--python", "3.12"], set()),
        (["--os", "macos", "--arch", "x86_64", "--python", "3.12", "--group", "mac_intel"], set()),
        (["--os", "macos", "--arch", "x86_64", "--python", "3.12"], {"torch==2.6.0", "torchvision==0.21.0"}),
    ],
)
def test_docling_elsewhere(capsys: pytest.CaptureFixture[str], host: list[str], wanted: set[str]) -> None:
    """On Intel macOS Poetry installs torch 2.6.0, which has no wheel there, unless --with mac_intel
    pins 2.2.2; no host gets ED204 from the lock's several versions."""
    _, report = audit(capsys, str(DOCLING), *host)
    assert not [f for f in report["findings"] if f["code"] in ("ED204", "ED101", "ED102")]
    assert {f["packages"][0] for f in report["findings"] if f["code"] == "ED301"} == wanted


@pytest.mark.parametrize(("python", "finding"), [("3.10", True), ("3.11", False), ("3.12", True)])
def test_the_locks_python_versions_is_the_projects_requires_python(
    capsys: pytest.CaptureFixture[str], python: str, finding: bool
) -> None:
    """zylon-ai/private-gpt's lock says python-versions = ">=3.11,<3.12"; poetry install refuses
    another Python, as uv sync refuses one uv.lock's requires-python does not allow."""
    code, report = audit(capsys, str(PRIVATE_GPT), "--os", "linux", "--arch", "x86_64", "--python", python)
    found = [f for f in report["findings"] if f["code"] == "ED302"]
    assert (code, len(found)) == ((1, 1) if finding else (0, 0))
    if finding:
        assert found[0]["location"]["line"] == 7109 and "<3.12,>=3.11" in found[0]["message"]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("^3.11", ["<4,>=3.11"]),
        ("^0.2.3", ["<0.3,>=0.2.3"]),
        ("^0.0.3", ["<0.0.4,>=0.0.3"]),
        ("^0", ["<1,>=0"]),
        ("~3.10", ["<3.11,>=3.10"]),
        ("~1", ["<2,>=1"]),
        ("~=1.2", ["<2,>=1.2"]),
        ("~= 1.2.3", ["<1.3,>=1.2.3"]),
        ("3.10.*", ["==3.10.*"]),
        ("*", [""]),
        (">=3.11,<3.12", ["<3.12,>=3.11"]),
        (">= 1.2, < 1.5", ["<1.5,>=1.2"]),
        (">=3.8 <4", ["<4,>=3.8"]),
        ("2.2.2", ["==2.2.2"]),
        ("^2.3.1+cu121", ["<3,>=2.3.1"]),
        (">=2.7,<2.8 || >=3.4", ["<2.8,>=2.7", ">=3.4"]),
    ],
)
def test_poetry_constraints(constraint: str, expected: list[str]) -> None:
    """Poetry's constraint syntax (python-poetry.org/docs/dependency-specification/#version-constraints)."""
    assert [str(s) for s in poetry_specifiers(constraint)] == expected


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        (">=2.7,<2.8 || >=3.4", "!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,>=2.7"),
        ("3.10.* || 3.12.*", "!=3.11.*,<3.13,>=3.10"),
        ("~2.7 || ^3.6", "!=3.0.*,!=3.1.*,!=3.2.*,!=3.3.*,!=3.4.*,!=3.5.*,<4,>=2.7"),
    ],
)
def test_python_versions_alternatives_as_one_specifier(constraint: str, expected: str) -> None:
    assert str(python_specifier(constraint)) == expected


def test_a_python_versions_that_is_not_a_constraint_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "poetry.lock"
    path.write_text('[metadata]\nlock-version = "2.0"\npython-versions = "3.11 or so"\n')
    code = main(["audit", str(path), "--os", "linux", "--arch", "x86_64", "--python", "3.11"])
    error = capsys.readouterr().err.strip()
    assert code == 2 and "poetry.lock:3: [metadata] python-versions '3.11 or so'" in error and "\n" not in error


def test_past_the_work_bound_versions_are_taken_as_the_edges_find_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock too large to resolve per environment is still read (each edge's version as before), not refused."""
    monkeypatch.setattr("envdoctor.requirements.poetrylock._MAX_SOLVE_WORK", 10)
    found = lock(DOCLING)
    assert {"torch==2.2.2", "torch==2.6.0"} <= {r.text for r in found}


def test_the_python_finding_names_poetrys_own_field_and_command(capsys: pytest.CaptureFixture[str]) -> None:
    # A poetry.lock's range is [metadata] python-versions, and it is poetry install that refuses.
    lock = Path(__file__).parent / "fixtures" / "poetry" / "private-gpt" / "poetry.lock"
    main(["audit", str(lock), "--os", "linux", "--arch", "x86_64", "--python", "3.10"])
    out = capsys.readouterr().out
    assert "([metadata] python-versions)" in out and "poetry install refuses" in out
