"""uv projects as uv reads them: ``[tool.uv]`` sources, indexes and conflicts in pyproject.toml, and
``uv.lock``, on real projects' files (tests/fixtures/uv/PROVENANCE.md), judged on stated hosts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import Marker

from envdoctor.cli import main
from envdoctor.errors import InputError
from envdoctor.requirements import detect_kind
from envdoctor.requirements.model import Form, Requirement
from envdoctor.requirements.pyproject import parse_pyproject, uv_indexes
from envdoctor.requirements.pyproject import sync_groups as pyproject_sync_groups
from envdoctor.requirements.uvlock import conjoin, negate_marker, parse_uv_lock
from envdoctor.requirements.uvlock import sync_groups as uv_sync_groups

UV = Path(__file__).parent / "fixtures" / "uv"
# A Linux x86_64 host with an A100 and a CUDA 11.8 driver: no CUDA 12 build runs on it.
DRIVER_520 = ["--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "520.61.05", "--gpu", "8.0"]
# The same host with a driver every CUDA 12 build runs on.
DRIVER_570 = ["--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "570.124.06", "--gpu", "8.0"]
MACOS = ["--os", "macos", "--arch", "arm64", "--python", "3.11"]


def _wired() -> bool:
    try:
        return detect_kind("uv.lock") == "uvlock"
    except InputError:
        return False


# The loader (envdoctor/requirements/__init__.py, the lead's) reads uv.lock once it knows the kind.
needs_uvlock_kind = pytest.mark.skipif(not _wired(), reason="needs the loader to wire uv.lock (kind 'uvlock')")
# uv pins a package to the index any of its requirements' sources names, and takes it from there
# only (https://docs.astral.sh/uv/concepts/projects/dependencies/#index): the audit has to judge the
# package as that index's build, over its other lines, among the releases that index serves.
needs_variant = pytest.mark.skip(
    reason="needs the audit to judge a package by its line with a uv index source (Requirement.variant/source), "
    "over its other lines, among the releases that index serves (lead: rules/context.py)"
)


def read(project: str, name: str) -> str:
    return (UV / project / name).read_text()


def lock(project: str, extras: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> list[Requirement]:
    path = str(UV / project / "uv.lock")
    return parse_uv_lock(read(project, "uv.lock"), path, extras, groups)


def pyproject(project: str, extras: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> list[Requirement]:
    path = str(UV / project / "pyproject.toml")
    return parse_pyproject(read(project, "pyproject.toml"), path, extras, groups)


def named(requirements: list[Requirement], name: str) -> list[Requirement]:
    return [r for r in requirements if r.name == name]


def audit(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["audit", str(path), "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def findings(report: dict[str, Any], code: str, package: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["code"] == code and any(p.startswith(package) for p in f["packages"])]


# [tool.uv] in pyproject.toml


def test_an_extra_takes_torch_from_its_index() -> None:
    """nanochat: torch==2.9.1 is a base dependency and, in each extra, pinned to that extra's index."""
    gpu = named(pyproject("nanochat", extras=("gpu",)), "torch")
    assert [(r.location.line, r.variant, r.source) for r in gpu] == [
        (15, None, None),
        (59, "cu128", "the pytorch-cu128 index (tool.uv.sources)"),
    ]
    cpu = named(pyproject("nanochat", extras=("cpu",)), "torch")
    assert [(r.location.line, r.variant) for r in cpu] == [(15, None), (56, "cpu")]
    # A source for an extra applies to the requirements written in that extra only.
    assert [r.variant for r in named(pyproject("nanochat"), "torch")] == [None]


def test_a_marker_source_splits_the_requirement_where_uv_does() -> None:
    """open-instruct (2025-07): torch from the cu124 index except on macOS, where PyPI's."""
    (cuda, darwin) = named(pyproject("open-instruct-cu124"), "torch")
    assert (cuda.variant, cuda.marker) == ("cu124", Marker("platform_system != 'Darwin'"))
    assert (darwin.variant, darwin.source, darwin.marker) == (None, None, Marker("platform_system == 'Darwin'"))
    assert cuda.location.line == darwin.location.line == 25


def test_group_sources_and_what_cannot_hold_is_dropped() -> None:
    """open-instruct (2026-08): torch from cu128 for --group cuda12, cu130 for cuda13, and an
    aarch64-only cu130 source that cannot hold beside the group's x86_64 marker installs nothing."""
    cuda12 = [
        r for r in named(pyproject("open-instruct-groups", groups=("cuda12",)), "torch") if r.location.line == 155
    ]
    assert [(r.variant, str(r.marker)) for r in cuda12] == [
        ("cu128", 'platform_machine == "x86_64" and platform_system == "Linux"')
    ]
    cuda13 = [
        r for r in named(pyproject("open-instruct-groups", groups=("cuda13",)), "torch") if r.location.line == 164
    ]
    assert [r.variant for r in cuda13] == ["cu130"]
    vllm = named(pyproject("open-instruct-groups", groups=("cuda13",)), "vllm")
    assert [r.source for r in vllm] == [None, "the vllm-cu130 index (tool.uv.sources)"]


def test_a_git_source_on_a_branch_is_not_reproducible(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """cs336 assignment 5: alpaca-eval from a git branch; without the lock beside it, ED403."""
    shutil.copy(UV / "cs336-alignment" / "pyproject.toml", tmp_path / "pyproject.toml")
    _, report = audit(capsys, tmp_path / "pyproject.toml", *DRIVER_570)
    (finding,) = [f for f in report["findings"] if f["code"] == "ED403"]
    assert (
        "alpaca-eval @ git+https://github.com/nelson-liu/alpaca_eval.git@forward_kwargs_to_vllm" in finding["message"]
    )
    assert finding["location"]["line"] == 9


def test_a_url_source_for_a_group(capsys: pytest.CaptureFixture[str]) -> None:
    """open-instruct (2026-08): flash-attn for --group cuda12 is a prebuilt wheel's URL, without a
    hash in the pyproject; the git source pinned to a commit is reproducible."""
    host = [*DRIVER_570[:4], "--python", "3.12", *DRIVER_570[6:]]
    _, report = audit(capsys, UV / "open-instruct-groups" / "pyproject.toml", "--group", "cuda12", *host)
    (url,) = [f for f in report["findings"] if f["code"] == "ED404" and f["location"]["line"] == 159]
    assert "flash-attn @ https://github.com/mjun0812/" in url["message"]
    assert "flash_attn-2.8.3+cu128torch2.10-cp312-cp312-linux_x86_64.whl" in url["message"]
    assert not [f for f in report["findings"] if f["code"] == "ED403"]


def test_conflicting_extras_are_refused_as_uv_refuses_them(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", str(UV / "nanochat" / "pyproject.toml"), "--extra", "cpu", "--extra", "gpu", *DRIVER_570])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error.endswith(
        "pyproject.toml:64: --extra cpu and --extra gpu are declared conflicting (tool.uv.conflicts): "
        "uv installs one at a time"
    )
    assert "\n" not in error


def test_uv_project_extra_is_judged_as_its_index_build(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """nanochat's pyproject alone: --extra gpu is the cu128 build (ED101 on a CUDA 11.8 driver);
    --extra cpu is the CPU build, however PyPI's default Linux torch is built."""
    shutil.copy(UV / "nanochat" / "pyproject.toml", tmp_path / "pyproject.toml")
    _, gpu = audit(capsys, tmp_path / "pyproject.toml", "--extra", "gpu", *DRIVER_520)
    assert any("cu128" in f["message"] for f in findings(gpu, "ED101", "torch"))
    _, cpu = audit(capsys, tmp_path / "pyproject.toml", "--extra", "cpu", *DRIVER_520)
    assert not findings(cpu, "ED101", "torch")


def test_uv_project_marker_source_is_judged_as_the_cu124_build(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copy(UV / "open-instruct-cu124" / "pyproject.toml", tmp_path / "pyproject.toml")
    _, report = audit(capsys, tmp_path / "pyproject.toml", *DRIVER_520)
    (finding,) = findings(report, "ED101", "torch")
    assert "cu124" in finding["message"]


def test_non_explicit_indexes_are_the_sets_indexes() -> None:
    """From uv's indexes page: a named index is an extra index unless explicit; ``default = true``
    replaces PyPI; ``format = "flat"`` is a find-links location."""
    text = (
        "[project]\nname = 'p'\nversion = '0'\ndependencies = ['torch']\n"
        "[[tool.uv.index]]\nname = 'pytorch'\nurl = 'https://download.pytorch.org/whl/cu124'\n"
        "[[tool.uv.index]]\nname = 'internal'\nurl = 'https://example.com/simple'\ndefault = true\n"
        "[[tool.uv.index]]\nname = 'wheels'\nurl = '/srv/wheels'\nformat = 'flat'\n"
        "[[tool.uv.index]]\nname = 'cpu'\nurl = 'https://download.pytorch.org/whl/cpu'\nexplicit = true\n"
    )
    indexes = uv_indexes(text, "pyproject.toml")
    assert indexes.index_url == "https://example.com/simple"
    assert indexes.extra_index_urls == ("https://download.pytorch.org/whl/cu124",)
    assert indexes.find_links == ("/srv/wheels",)
    assert uv_indexes(read("nanochat", "pyproject.toml"), "pyproject.toml").extra_index_urls == ()


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (
            "[tool.uv.sources]\ntorch = { index = 'nowhere' }\n",
            "pyproject.toml:6: tool.uv.sources.torch: no [[tool.uv.index]] named 'nowhere'",
        ),
        (
            "[tool.uv.sources]\ntorch = { index = 'a', git = 'b' }\n",
            "pyproject.toml:6: tool.uv.sources.torch: each source names one of",
        ),
        (
            "[tool.uv.sources]\ntorch = { git = 'x', marker = 'os_name =' }\n",
            "pyproject.toml:6: tool.uv.sources.torch: invalid marker",
        ),
        ("[[tool.uv.index]]\nurl = 3\n", "pyproject.toml:5: [[tool.uv.index]]: url must be a string"),
        ("[tool.uv]\nconflicts = 'cpu'\n", "pyproject.toml:6: tool.uv.conflicts must be a list of lists"),
    ],
)
def test_bad_uv_tables_name_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tail: str, message: str
) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project]\nname = 'p'\nversion = '0'\ndependencies = ['torch']\n" + tail)
    code = main(["audit", str(path), *DRIVER_570])
    error = capsys.readouterr().err.strip()
    assert code == 2 and message in error and "\n" not in error


# uv.lock


def test_lock_follows_the_selected_extra() -> None:
    """nanochat's lock: --extra gpu installs the cu128 torch alone; --extra cpu the CPU index's two
    builds, one for macOS and one for elsewhere; neither pulls the CUDA wheels of the other."""
    (torch,) = named(lock("nanochat", extras=("gpu",)), "torch")
    assert (torch.text, torch.variant, torch.marker, torch.location.line) == ("torch==2.9.1+cu128", "cu128", None, 2336)
    assert torch.source == "https://download.pytorch.org/whl/cu128 (uv.lock)"
    assert torch.hashes and all(h.startswith("sha256:") for h in torch.hashes)
    assert str(named(lock("nanochat", extras=("gpu",)), "nvidia-cublas-cu12")[0].marker) == 'sys_platform == "linux"'
    cpu = lock("nanochat", extras=("cpu",))
    assert [(r.text, str(r.marker), r.variant) for r in named(cpu, "torch")] == [
        ("torch==2.9.1", 'sys_platform == "darwin"', "cpu"),
        ("torch==2.9.1+cpu", 'sys_platform != "darwin"', "cpu"),
    ]
    assert not named(cpu, "nvidia-cublas-cu12")
    # Without an extra: PyPI's torch, whose CUDA wheels come on x86_64 Linux only.
    (plain,) = named(lock("nanochat"), "torch")
    assert (plain.text, plain.source, plain.variant) == ("torch==2.9.1", None, None)
    assert (
        str(named(lock("nanochat"), "triton")[0].marker) == 'platform_machine == "x86_64" and sys_platform == "linux"'
    )


def test_lock_keeps_a_package_locked_twice_with_its_markers() -> None:
    networkx = named(lock("open-instruct-cu124"), "networkx")
    assert [(r.text, str(r.marker)) for r in networkx] == [
        ("networkx==3.4.2", 'python_full_version < "3.11"'),
        ("networkx==3.5", 'python_full_version >= "3.11"'),
    ]
    assert [(r.text, str(r.marker)) for r in named(lock("open-instruct-cu124"), "torch")] == [
        ("torch==2.6.0", 'sys_platform == "darwin"'),
        ("torch==2.6.0+cu124", 'sys_platform != "darwin"'),
    ]


def test_lock_groups_and_sources() -> None:
    """The dev group comes only when asked; a git source is pinned to its locked commit."""
    assert not named(lock("open-instruct-cu124"), "pytest")
    assert named(lock("open-instruct-cu124", groups=("dev",)), "pytest")
    (alpaca,) = named(lock("cs336-alignment"), "alpaca-eval")
    assert alpaca.form is Form.VCS
    assert alpaca.url == "git+https://github.com/nelson-liu/alpaca_eval.git@33d1d5b150363ff64e13418814d3de2e067b565a"
    # The project itself (editable ".") is the audit's subject, not one of its requirements.
    assert not named(lock("cs336-alignment"), "alignment")


@needs_uvlock_kind
def test_lock_of_a_cu124_torch_is_judged_as_that_build(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = audit(capsys, UV / "open-instruct-cu124" / "uv.lock", *DRIVER_520)
    (finding,) = findings(report, "ED101", "torch")
    assert code == 1
    assert "torch 2.6.0+cu124" in finding["message"] and "cu124" in finding["message"]
    assert finding["location"]["line"] == 3584
    assert report["inputs"][0]["kind"] == "uvlock"
    # The lock's PyTorch-index pins come from their index: no "no index names it" error.
    assert not [f for f in report["findings"] if f["code"] == "ED406"]


@needs_uvlock_kind
def test_lock_extra_cpu_on_a_gpu_host_is_the_cpu_build(capsys: pytest.CaptureFixture[str]) -> None:
    _, gpu = audit(capsys, UV / "nanochat" / "uv.lock", "--extra", "gpu", *DRIVER_520)
    assert any("2.9.1+cu128" in f["message"] for f in findings(gpu, "ED101", "torch"))
    _, cpu = audit(capsys, UV / "nanochat" / "uv.lock", "--extra", "cpu", *DRIVER_520)
    assert not [f for f in cpu["findings"] if f["code"] == "ED101"]


@needs_uvlock_kind
def test_lock_markers_are_judged_per_host(capsys: pytest.CaptureFixture[str]) -> None:
    """cs336 assignment 1 (Python >= 3.12): PyPI's torch 2.6.0 is the cu124 build on Linux x86_64,
    which a CUDA 11.8 driver cannot run; on macOS the nvidia-* wheels are not installed, so nothing
    is judged of them; on Python 3.11 the lock's requires-python refuses the host."""
    python_312 = ["--python", "3.12"]
    _, linux = audit(capsys, UV / "cs336-basics" / "uv.lock", *DRIVER_520, *python_312)
    (torch,) = findings(linux, "ED101", "torch")
    assert "cu124" in torch["message"] and torch["location"]["line"] == 797
    _, macos = audit(capsys, UV / "cs336-basics" / "uv.lock", *MACOS, *python_312)
    assert not [f for f in macos["findings"] if any(p.startswith("nvidia-") for p in f["packages"])]
    assert not [f for f in macos["findings"] if f["severity"] == "error"]
    _, old_python = audit(capsys, UV / "cs336-basics" / "uv.lock", *MACOS)
    (refused,) = [f for f in old_python["findings"] if f["code"] == "ED302"]
    assert refused["location"] == {"path": str(UV / "cs336-basics" / "uv.lock"), "line": 3}


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("version = 1\n[[package]\n", (), "uv.lock:2: not valid TOML"),
        ("version = 2\n", (), "uv.lock: uv.lock schema version 2: this reader knows version 1"),
        ("[[package]]\nname = 'a'\n", (), "uv.lock: not a uv.lock: no integer schema version"),
        ("version = 1\n\n[[package]]\nversion = '1'\n", (), "uv.lock:3: [[package]] without a name"),
        (
            "version = 1\n[[package]]\nname = 'p'\nversion = '1'\nsource = { virtual = '.' }\n"
            "dependencies = [{ name = 'ghost' }]\n",
            (),
            "uv.lock:2: p: dependencies: 'ghost' is not locked",
        ),
        (
            "version = 1\n[[package]]\nname = 'p'\nsource = { virtual = '.' }\n"
            "dependencies = [{ name = 'p', marker = 'os_name ==' }]\n",
            (),
            "uv.lock:2: invalid marker 'os_name =='",
        ),
        (
            "version = 1\n[[package]]\nname = 'p'\nsource = { virtual = '.' }\n",
            ("cu124",),
            "no optional dependencies named 'cu124'",
        ),
        (
            "version = 1\n[[package]]\nname = 'p'\nversion = '1'\nsource = { registry = 3 }\n",
            (),
            "uv.lock:2: p: source",
        ),
        ("version = 1\n[[package]]\nname = 'p'\nversion = '9" + "9" * 80 + "'\n", (), "holds a number of 81 digits"),
    ],
)
def test_bad_locks_name_file_and_line(text: str, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_uv_lock(text, "uv.lock", args, ())
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_conflicting_extras_in_a_lock_are_refused() -> None:
    with pytest.raises(InputError, match="--extra cpu and --extra gpu are declared conflicting"):
        lock("nanochat", extras=("cpu", "gpu"))


def test_marker_algebra() -> None:
    """The opposite of a source's marker is where the indexes serve; what cannot hold together is false."""
    assert negate_marker(Marker("sys_platform == 'linux' or sys_platform == 'win32'")) == Marker(
        "sys_platform != 'linux' and sys_platform != 'win32'"
    )
    assert negate_marker(Marker("python_version ~= '3.10'")) is None
    assert conjoin(Marker("sys_platform == 'linux'"), Marker("sys_platform == 'darwin'")) is False
    assert conjoin(Marker("sys_platform == 'linux'"), Marker("sys_platform != 'darwin'")) == Marker(
        "sys_platform == 'linux'"
    )
    assert conjoin(None, None) is True


def test_a_locks_cuda_wheels_are_judged_through_the_torch_that_declares_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """h2o-llmstudio's real uv.lock (tests/fixtures/dockerfiles/h2o-llmstudio) pins torch
    2.8.0+cu126 and, as lines of their own, the fourteen nvidia-*-cu12 wheels it declares. On a
    CUDA 11 driver that is one finding, on torch, with a fix that does not list the wheels a
    re-lock moves with it; and the cu126 build's own requirements are not PyPI's (no ED204)."""
    lock = Path(__file__).parent / "fixtures" / "dockerfiles" / "h2o-llmstudio" / "uv.lock"
    v100 = ["--os", "linux", "--arch", "x86_64", "--python", "3.10", "--driver", "470.82.01", "--gpu", "7.0"]
    _, report = audit(capsys, lock, *v100)
    errors = [(f["code"], f["packages"][0]) for f in report["findings"] if f["severity"] == "error"]
    assert errors == [("ED101", "torch==2.8.0+cu126")]
    (finding,) = report["findings"]
    assert "torch==2.7.1+cu118" in finding["fix"] and "nvidia-" not in finding["fix"]


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        (["--os", "linux", "--arch", "x86_64", "--python", "3.10"], False),
        (["--os", "linux", "--arch", "x86_64", "--python", "3.12"], True),
        (["--os", "macos", "--arch", "arm64", "--python", "3.12"], True),
    ],
)
def test_a_lock_resolved_for_other_environments_installs_nothing_here(
    capsys: pytest.CaptureFixture[str], host: list[str], refused: bool
) -> None:
    """cosmos-predict2's uv.lock: supported-markers limit it to Linux x86_64, Python < 3.11."""
    _, report = audit(capsys, UV / "cosmos-predict2" / "uv.lock", *host)
    found = [f for f in report["findings"] if f["code"] == "ED301" and "resolution only for" in f["message"]]
    assert bool(found) is refused
    if refused:
        assert found[0]["severity"] == "error" and found[0]["location"]["line"] == 7


def test_a_source_index_the_base_does_not_know_leaves_the_build_unjudged(capsys: pytest.CaptureFixture[str]) -> None:
    """cosmos-predict2 --extra cu126 takes torch from NVIDIA's cosmos index (not PyTorch's): which
    build it serves is not told (one not-judged note, not PyPI's build judged in its place), and
    the thirteen nvidia-*-cu12 wheels the extra names are one driver finding, not thirteen."""
    v100 = ["--os", "linux", "--arch", "x86_64", "--python", "3.10", "--driver", "470.82.01", "--gpu", "7.0"]
    _, report = audit(capsys, UV / "cosmos-predict2" / "pyproject.toml", "--extra", "cu126", *v100)
    driver = [f for f in report["findings"] if f["code"] == "ED101"]
    assert len(driver) == 1 and "13 CUDA library wheels" in driver[0]["message"]
    (unknown,) = [f for f in report["findings"] if f["code"] == "ED900" and "torch 2.6.0" in f["message"]]
    assert "the cosmos-cu126 index (tool.uv.sources), whose build" in unknown["message"]
    assert not [f for f in report["findings"] if f["code"] == "ED204"]


@pytest.mark.parametrize(
    ("lock", "extras", "host", "refused"),
    [
        # nanochat --extra gpu: torch 2.9.1+cu128, whose locked wheels are Linux and Windows ones.
        ("nanochat", ["--extra", "gpu"], ["--os", "macos", "--arch", "arm64", "--python", "3.12"], "torch"),
        ("nanochat", ["--extra", "gpu"], ["--os", "linux", "--arch", "x86_64", "--python", "3.12"], None),
        ("nanochat", ["--extra", "cpu"], ["--os", "macos", "--arch", "arm64", "--python", "3.12"], None),
        # open-instruct: torch 2.6.0+cu124 everywhere but macOS; the cu124 index had no aarch64 wheel of it.
        ("open-instruct-cu124", [], ["--os", "linux", "--arch", "aarch64", "--python", "3.11"], "torch"),
        ("open-instruct-cu124", [], ["--os", "linux", "--arch", "x86_64", "--python", "3.11"], None),
    ],
)
def test_a_locked_package_with_no_file_for_the_host_cannot_install(
    capsys: pytest.CaptureFixture[str], lock: str, extras: list[str], host: list[str], refused: str | None
) -> None:
    _, report = audit(capsys, UV / lock / "uv.lock", *extras, *host)
    found = [f["packages"][0] for f in report["findings"] if f["code"] == "ED301" and "lock offers" in f["message"]]
    assert [name.split("==")[0] for name in found] == ([refused] if refused else [])


# uv's default groups (https://docs.astral.sh/uv/concepts/projects/dependencies/#default-groups)


def test_uv_sync_installs_the_default_groups() -> None:
    """uv sync installs `dev` unless tool.uv.default-groups says otherwise: open-instruct (2025-07)
    has no setting, so dev comes; nanochat sets `default-groups = []`; open-instruct (2026-08) sets
    ["dev", "cuda12"]. Without default_groups (a Dockerfile that settled them, pip install .) none."""
    path = str(UV / "open-instruct-cu124" / "uv.lock")
    with_defaults = parse_uv_lock(read("open-instruct-cu124", "uv.lock"), path, default_groups=True)
    assert named(with_defaults, "pytest") and not named(lock("open-instruct-cu124"), "pytest")
    assert uv_sync_groups(read("open-instruct-cu124", "uv.lock"), path) == ("dev",)
    assert uv_sync_groups(read("nanochat", "uv.lock"), str(UV / "nanochat" / "uv.lock")) == ()
    project = str(UV / "open-instruct-groups" / "pyproject.toml")
    assert pyproject_sync_groups(read("open-instruct-groups", "pyproject.toml"), project) == ("dev", "cuda12")
    cuda12 = parse_pyproject(read("open-instruct-groups", "pyproject.toml"), project, default_groups=True)
    assert [r.variant for r in named(cuda12, "torch") if r.location.line == 155] == ["cu128"]


def test_a_pyproject_is_a_uv_project_by_tool_uv_or_a_lock_beside_it(tmp_path: Path) -> None:
    """cs336 assignment 1 has no [tool.uv] but commits a uv.lock: uv sync installs it, dev included;
    the same pyproject alone is pip's, which installs no group."""
    text = "[project]\nname = 'p'\nversion = '0'\ndependencies = []\n[dependency-groups]\ndev = ['pytest']\n"
    (tmp_path / "pyproject.toml").write_text(text)
    assert pyproject_sync_groups(text, str(tmp_path / "pyproject.toml")) == ()
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert pyproject_sync_groups(text, str(tmp_path / "pyproject.toml"), ("docs",)) == ("dev", "docs")
    assert pyproject_sync_groups(text + "[tool.uv]\ndefault-groups = 'all'\n", "x/pyproject.toml") == ("dev",)
    with pytest.raises(InputError, match="no dependency group named 'lint' is defined"):
        pyproject_sync_groups(text + "[tool.uv]\ndefault-groups = ['lint']\n", "x/pyproject.toml")


def test_a_dockerfiles_uv_sync_settles_its_own_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`uv sync` in a RUN installs the default dev group, `uv sync --no-dev` and
    `--no-default-groups` do not (the Dockerfile reader passes the groups it settled)."""
    from envdoctor.requirements.dockerfile import parse_dockerfile

    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(UV / "open-instruct-cu124" / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    for options, dev in (("", True), (" --no-dev", False), (" --no-default-groups", False)):
        text = f"FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN uv sync{options}\n"
        read = parse_dockerfile(text, "Dockerfile")
        assert bool([r for r in read.requirements if r.name == "pytest"]) is dev, options


@pytest.mark.parametrize(
    ("flags", "has_dev"),
    [
        ([], True),  # uv sync installs the dev group by default
        (["--no-dev"], False),
        (["--no-group", "dev"], False),
        (["--no-default-groups"], False),
        (["--no-default-groups", "--group", "dev"], True),
        (["--group", "dev", "--no-group", "dev"], False),  # uv: --no-group wins
    ],
)
def test_the_command_line_selects_groups_as_uv_sync_does(flags: list[str], has_dev: bool) -> None:
    from envdoctor.cli import build_parser
    from envdoctor.requirements import load_requirement_set, source_options

    lock = str(UV / "open-instruct-cu124" / "uv.lock")
    args = build_parser().parse_args(["audit", lock, *flags])
    names = {r.name for r in load_requirement_set([lock], source_options(args)).requirements}
    assert ("black" in names) is has_dev


@pytest.mark.parametrize(
    ("present", "read"),
    [
        (("pyproject.toml", "uv.lock"), ["uv.lock"]),  # the lock is what uv sync installs
        (("uv.lock",), ["uv.lock"]),
        (("pyproject.toml",), ["pyproject.toml"]),
        (("requirements.txt", "Dockerfile"), ["requirements.txt", "Dockerfile"]),
    ],
)
def test_audit_with_no_file_reads_the_projects_lock(
    present: tuple[str, ...], read: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envdoctor.commands.audit import default_inputs

    for name in present:
        (tmp_path / name).write_text("")
    monkeypatch.chdir(tmp_path)
    assert default_inputs() == read
