"""``envdoctor lock`` against the local index and the stand-in PyTorch index (tests/local_index.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.pylock import Pylock

from envdoctor.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

LINUX = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]


def project(folder: Path, index: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.in").write_text(f"--no-index\n--find-links {index}\n{body}")
    return folder


def lock(folder: Path, pytorch_index: Path, *args: str) -> int:
    cwd = Path.cwd()
    try:
        import os

        os.chdir(folder)
        return main(["lock", "requirements.in", "--pytorch-index", str(pytorch_index), *LINUX, *args])
    finally:
        os.chdir(cwd)


def locked(folder: Path, pattern: str) -> str:
    (path,) = sorted((folder / "lockfiles").glob(pattern))
    return path.read_text()


@pytest.mark.parametrize(
    ("driver", "gpu", "variant", "cuda_wheel"),
    [
        # CUDA 11.8's own driver runs no CUDA 12 build (PyPI's is cu126): the cu118 build is chosen.
        ("520.61.05", "8.0", "cu118", "nvidia-cuda-runtime-cu11==11.8.89"),
        # PyPI's cu126 build has no kernels for Blackwell (12.0); the newest build that has, cu128.
        # (A driver and GPU that PyPI's build runs on get no index: tests/test_lock_pypi_first.py.)
        ("575.57.08", "12.0", "cu128", "nvidia-cuda-runtime-cu12==12.8.57"),
    ],
)
def test_the_cuda_build_of_torch_is_chosen_for_the_target(  # noqa: PLR0917 - a column of the table each
    tmp_path: Path, local_index: Path, pytorch_index: Path, driver: str, gpu: str, variant: str, cuda_wheel: str
) -> None:
    folder = project(tmp_path, local_index, "torch==2.7.0\nnumpy\n")
    assert lock(folder, pytorch_index, "--driver", driver, "--gpu", gpu) == 0
    requirements = locked(folder, f"requirements.linux-x86_64-py3.11-{variant}.txt")
    assert f"torch==2.7.0+{variant} \\" in requirements
    assert f"{cuda_wheel} \\" in requirements
    assert f"#   index {pytorch_index}/{variant} for torch only:" in requirements
    assert f"--find-links {pytorch_index}/{variant}" in requirements
    # Every distribution is pinned by hash, and pip reads the file as a hash-checked set.
    names = [line for line in requirements.splitlines() if "==" in line]
    assert all(line.endswith("\\") for line in names)
    pylock = locked(folder, f"pylock.linux-x86_64-py3.11-{variant}.toml")
    Pylock.from_dict(tomllib.loads(pylock))
    # Local wheels are recorded as paths relative to the lockfile, never as this machine's file:// URLs.
    assert "file://" not in pylock and str(tmp_path) not in pylock


def test_only_the_torch_family_comes_from_the_pytorch_index(
    tmp_path: Path, local_index: Path, pytorch_index: Path
) -> None:
    folder = project(tmp_path, local_index, "torch==2.7.0\nnumpy\n")
    assert lock(folder, pytorch_index, "--driver", "520.61.05") == 0
    pylock = tomllib.loads(locked(folder, "pylock.*.toml"))
    from_pytorch = sorted(p["name"] for p in pylock["packages"] if "pytorch-index" in str(p.get("wheels", "")))
    assert from_pytorch == ["torch"]


def test_numpy_is_held_below_2_for_a_numpy_1_torch(tmp_path: Path, local_index: Path, pytorch_index: Path) -> None:
    folder = project(tmp_path, local_index, "torch==2.2.0\nnumpy\n")
    assert lock(folder, pytorch_index) == 0  # no GPU facts: PyPI's default torch build
    requirements = locked(folder, "requirements.linux-x86_64-py3.11.txt")
    assert "numpy==1.26.4 \\" in requirements
    assert "#   constraint numpy<2: torch 2.2.0 was built against NumPy 1.x" in requirements


def test_same_inputs_same_bytes_in_two_folders(tmp_path: Path, local_index: Path, pytorch_index: Path) -> None:
    outputs = []
    for name in ("first", "second/deeper"):
        folder = project(tmp_path / name, local_index, "torch==2.7.0\nnumpy\n")
        assert lock(folder, pytorch_index, "--driver", "520.61.05") == 0
        outputs.append({p.name: p.read_bytes() for p in sorted((folder / "lockfiles").iterdir())})
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 2


def test_check_is_fast_and_sees_changed_inputs(
    tmp_path: Path, local_index: Path, pytorch_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path, local_index, "torch==2.2.0\nnumpy\n")
    assert lock(folder, pytorch_index) == 0
    assert lock(folder, pytorch_index, "--check") == 0
    assert lock(folder, pytorch_index, "--check", "--resolve") == 0
    (folder / "requirements.in").write_text((folder / "requirements.in").read_text() + "six\n")
    capsys.readouterr()
    assert lock(folder, pytorch_index, "--check") == 1
    assert "made from other inputs" in capsys.readouterr().out


def test_unsatisfiable_set_leaves_the_previous_lockfiles(
    tmp_path: Path, local_index: Path, pytorch_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path, local_index, "torch==2.2.0\nnumpy\n")
    assert lock(folder, pytorch_index) == 0
    before = {p.name: p.read_bytes() for p in (folder / "lockfiles").iterdir()}
    (folder / "requirements.in").write_text(
        f"--no-index\n--find-links {local_index}\ntorch==2.2.0\ntensorflow[and-cuda]==2.16.1\n"
    )
    capsys.readouterr()
    assert lock(folder, pytorch_index) == 1
    out = capsys.readouterr().out
    assert "ED204 (unsatisfiable)" in out and "nvidia-" in out
    assert {p.name: p.read_bytes() for p in (folder / "lockfiles").iterdir()} == before


def test_driver_that_runs_no_build_is_refused(
    tmp_path: Path, local_index: Path, pytorch_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path, local_index, "torch==2.7.0\n")
    # A CUDA 10.1-era driver is below CUDA 11's minor-version floor: no build of torch 2.7.0 runs.
    assert lock(folder, pytorch_index, "--driver", "418.67") == 1
    assert "no CUDA build of torch 2.7.0" in capsys.readouterr().out
    assert not (folder / "lockfiles").exists()


def test_exclude_newer_is_recorded(tmp_path: Path, local_index: Path, pytorch_index: Path) -> None:
    folder = project(tmp_path, local_index, "six\n")
    assert lock(folder, pytorch_index, "--exclude-newer", "2030-01-01") == 0
    assert "# exclude-newer: 2030-01-01" in locked(folder, "requirements.*.txt")


def test_pip_tools_backend_writes_the_same_lockfile(
    tmp_path: Path, local_index: Path, pytorch_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pip-compile reads pip's own configuration; this machine's adds folders of wheels to every run.
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    bodies = {}
    for backend in ("uv", "pip-tools"):
        folder = project(tmp_path / backend, local_index, "torch==2.2.0\nnumpy\n")
        assert lock(folder, pytorch_index, "--backend", backend) == 0
        text = locked(folder, "requirements.*.txt")
        assert f"# resolver: {backend} " in text
        bodies[backend] = [line for line in text.splitlines() if not line.startswith("#")]
    assert bodies["uv"] == bodies["pip-tools"]


def test_pip_tools_cannot_target_another_python(tmp_path: Path, local_index: Path, pytorch_index: Path) -> None:
    folder = project(tmp_path, local_index, "six\n")
    other = "3.10" if sys.version_info[:2] != (3, 10) else "3.12"
    code = main(
        [
            "lock",
            str(folder / "requirements.in"),
            "--backend",
            "pip-tools",
            "--os",
            "linux",
            "--arch",
            "x86_64",
            "--python",
            other,
        ]
    )
    assert code == 2


def test_lockfile_installs_with_require_hashes(tmp_path: Path, local_index: Path, pytorch_index: Path) -> None:
    """pip reads the lockfile as a hash-checked set (the wheels are stand-ins; nothing is imported)."""
    folder = project(tmp_path, local_index, "six\nfilelock\n")
    assert lock(folder, pytorch_index) == 0
    (path,) = (folder / "lockfiles").glob("requirements.*.txt")
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--require-hashes", "--target",
         str(tmp_path / "site"), "-r", str(path)],
        capture_output=True, text=True, cwd=folder, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "Would install filelock" in completed.stdout and "six" in completed.stdout


@pytest.mark.network
def test_a_small_real_stack_locks_and_installs(tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("packaging\nsix==1.17.0\n")
    cwd = Path.cwd()
    import os

    os.chdir(tmp_path)
    try:
        assert main(["lock", "requirements.in", *LINUX]) == 0
    finally:
        os.chdir(cwd)
    (path,) = (tmp_path / "lockfiles").glob("requirements.*.txt")
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
    pip = tmp_path / "venv" / "bin" / "pip"
    subprocess.run([str(pip), "install", "--require-hashes", "--no-deps", "-r", str(path)], check=True)


def test_a_pinned_build_the_target_cannot_run_is_relocked_as_one_it_can(
    tmp_path: Path, local_index: Path, pytorch_index: Path
) -> None:
    folder = project(tmp_path, local_index, "torch==2.7.0+cu128\n")
    assert lock(folder, pytorch_index, "--driver", "520.61.05") == 0
    requirements = locked(folder, "requirements.*-cu118.txt")
    assert "torch==2.7.0+cu118 \\" in requirements
    assert "#   torch==2.7.0+cu128 locked as torch==2.7.0+cu118: the cu128 build cannot run" in requirements


def test_icarus_steering_for_its_host() -> None:
    """The Icarus stack on its CUDA 11.8-era box: the cu118 build of its torch, NumPy 1 kept."""
    from envdoctor.host.select import load_profile
    from envdoctor.lock.steering import steer
    from envdoctor.requirements import SourceOptions, load_requirement_set

    root = Path(__file__).parent.parent
    requirements = load_requirement_set([str(root / "examples/icarus/requirements.txt")], SourceOptions())
    steering = steer(requirements, load_profile(str(root / "examples/icarus/prod-host.json")), "3.11", "https://x/whl")
    assert steering.torch_index is not None
    assert (steering.torch_index.variant, steering.torch_index.url) == ("cu118", "https://x/whl/cu118")
    assert steering.rewrites[0][:2] == ("torch==2.2.0+cu121", "torch==2.2.0+cu118")
    assert steering.constraints[0].requirement == "numpy<2"


def test_a_cluster_gets_a_lockfile_per_build_naming_the_node_classes_it_serves(
    tmp_path: Path, local_index: Path, pytorch_index: Path
) -> None:
    from envdoctor.host import fleet
    from envdoctor.host.profile import Gpu, HostProfile, NoNvidia, Nvidia

    def gpu_class(name: str, driver: str, capability: str, nodes: int) -> fleet.NodeClass:
        gpus = (Gpu(compute_capability=capability),)
        profile = HostProfile(os="linux", arch="x86_64", nvidia=Nvidia(driver=driver, gpus=gpus))
        return fleet.NodeClass(name, profile._replace(nodes=tuple(f"{name}-{i}" for i in range(nodes))))

    cpu = HostProfile(os="linux", arch="x86_64", nvidia=NoNvidia.NONE)._replace(nodes=("cpu-0",))
    classes = [
        gpu_class("a16-4q-r550", "550.90.07", "8.6", 2),
        gpu_class("h100-80gb-hbm3-r550", "550.90.07", "9.0", 3),
        gpu_class("t4-r470", "470.82.01", "7.5", 3),
        fleet.NodeClass("cpu-x86_64", cpu),
    ]
    folder = project(tmp_path, local_index, "torch==2.7.0\nnumpy\n")
    (folder / "fleet.json").write_text(fleet.fleet_to_json(classes))
    assert lock(folder, pytorch_index, "--host", "fleet.json") == 0
    names = sorted(path.name for path in (folder / "lockfiles").glob("requirements.*.txt"))
    # PyPI's build runs on both R550 classes and (as a CPU build) on the CPU nodes: one lockfile;
    # the T4 pool's R470 needs the cu118 build.
    assert names == ["requirements.linux-x86_64-py3.11-cu118.txt", "requirements.linux-x86_64-py3.11.txt"]
    shared = locked(folder, "requirements.linux-x86_64-py3.11.txt")
    assert "# target: linux x86_64, Python 3.11 (x86_64-unknown-linux-gnu); node classes a16-4q-r550 (NVIDIA " \
        "driver 550.90.07, GPUs 8.6), h100-80gb-hbm3-r550 (NVIDIA driver 550.90.07, GPUs 9.0), cpu-x86_64 " \
        "(no NVIDIA GPU)\n" in shared  # fmt: skip
    assert "runs on driver 550.90.07 and sm_86" in shared and "runs on driver 550.90.07 and sm_90" in shared
    assert "node class t4-r470 (NVIDIA driver 470.82.01, GPUs 7.5)" in locked(folder, "requirements.*-cu118.txt")
    # The lockfiles are current for the fleet, as written.
    cwd = Path.cwd()
    try:
        import os

        os.chdir(folder)
        assert main(["lock", "requirements.in", "--check", "--pytorch-index", str(pytorch_index), *LINUX,
                     "--host", "fleet.json"]) == 0  # fmt: skip
    finally:
        os.chdir(cwd)


def test_hosts_whose_locks_differ_under_one_name_get_files_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    import envdoctor.lock as lock_module
    from envdoctor.host.profile import HostProfile
    from envdoctor.lock.steering import Constraint, Steering
    from envdoctor.requirements.model import RequirementSet

    def steer(requirements: RequirementSet, host: HostProfile, python: str, index: str) -> Steering:
        # Two classes of one platform that the knowledge base steers apart (a constraint for one).
        wanted = (Constraint("numpy<2", "for the old pool"),) if host.nodes == ("old-0",) else ()
        return Steering(constraints=wanted, notes=(f"seen on {host.nodes[0] if host.nodes else 'a machine'}",))

    monkeypatch.setattr(lock_module, "steer", steer)
    linux = HostProfile(os="linux", arch="x86_64", python="3.11")
    hosts = [
        ("old-pool", linux._replace(nodes=("old-0",))),
        ("new-pool", linux._replace(nodes=("new-0",))),
        ("newer-pool", linux._replace(nodes=("newer-0",))),
    ]
    plans = lock_module.plan_locks(RequirementSet((), ()), hosts, lock_module.LockOptions())
    assert [plan.name for plan in plans] == [
        "linux-x86_64-py3.11-old-pool",
        "linux-x86_64-py3.11-new-pool",
        "linux-x86_64-py3.11-newer-pool",
    ]
    assert [plan.steering.notes for plan in plans] == [("seen on old-0",), ("seen on new-0",), ("seen on newer-0",)]
    assert plans[1].description.endswith("; node class new-pool (no GPU facts)")
    # Profiles of machines (no node class) that lock alike share one file, naming no file.
    alike = lock_module.plan_locks(
        RequirementSet((), ()), [("a.json", linux), ("b.json", linux)], lock_module.LockOptions()
    )
    assert [plan.name for plan in alike] == ["linux-x86_64-py3.11"]
