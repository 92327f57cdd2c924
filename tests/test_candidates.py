"""The audit judges candidates: what each requirement can become on the host, from the knowledge
base's release table (kb/data/releases.toml, generated from the index), not only exact pins.

Facts the rows rest on, each read from the base (``envdoctor kb show``): tensorflow 2.15.1 has
wheels for Python 3.9-3.11 and 2.16.1 is the first with cp312 wheels; numpy 1.24.4 has no cp312
wheel but an sdist; deepspeed publishes only sdists; torch's PyPI builds for Linux are CUDA 12.x
up to 2.8 and CUDA 13 from 2.9 (torch.pypi_build); the RTX 5090 is compute capability 12.0,
which the cu128 builds (2.7 and later) carry kernels for (torch.cuda_arch); PyPI's Windows
torch wheels are CPU builds (torch.pypi_platform).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from envdoctor.cli import main
from envdoctor.rules.candidates import HostFacts, Why, candidates

A100 = ["--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "535.104.05", "--gpu", "8.0"]
V100 = ["--os", "linux", "--arch", "x86_64", "--python", "3.10", "--driver", "470.82.01", "--gpu", "7.0"]
RTX5090 = ["--os", "linux", "--arch", "x86_64", "--python", "3.12", "--driver", "570.86.16", "--gpu", "12.0"]
MAC = ["--os", "macos", "--arch", "arm64", "--python", "3.12"]
WINDOWS_3060 = ["--os", "windows", "--arch", "x86_64", "--python", "3.12", "--driver", "560.94", "--gpu", "8.6"]
PY312 = ["--os", "linux", "--arch", "x86_64", "--python", "3.12"]


def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, host: list[str], name: str = "r.txt") -> dict:
    path = tmp_path / name
    path.write_text(text)
    code = main(["audit", str(path), *host, "--format", "json"])
    assert code in (0, 1)
    report: dict = json.loads(capsys.readouterr().out)
    return report


def by_code(report: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for finding in report["findings"]:
        found.setdefault(finding["code"], []).append(finding)
    return found


@pytest.mark.parametrize(
    ("name", "specifier", "python", "newest", "why"),
    [
        ("tensorflow", "<2.16", "3.11", "2.15.1", None),
        ("tensorflow", "<2.16", "3.12", None, Why.PYTHON),
        ("tensorflow", "", "3.12", None, None),  # some release installs: the newest does
        ("scikit-image", "<0.22", "3.12", None, Why.FROM_SOURCE),
        # numpy 1.23-1.25's sdists need distutils, gone in Python 3.12 (platforms.toml source_build): pip
        # still picks 1.24.4's sdist and stops there, so it stays the candidate judged (and excluded).
        ("numpy", "<1.25", "3.12", "1.24.4", None),
        ("numpy", "<1.25", "3.11", "1.24.4", None),
        ("torch", "==2.6.*", "3.12", "2.6.0", None),
        ("torch", ">=2.2,<2.3", "3.11", "2.2.2", None),
    ],
)
def test_candidates_are_the_releases_the_range_admits_that_install_on_the_host(
    name: str, specifier: str, python: str, newest: str | None, why: Why | None
) -> None:
    found = candidates(canonicalize_name(name), SpecifierSet(specifier), HostFacts(python, "linux", "x86_64", None))
    assert found.tracked
    if newest is not None:
        assert str(found.newest) == newest
    if why is Why.FROM_SOURCE:  # pip takes it all the same, building its sdist
        assert found.newest is not None and found.builds_from_source(found.newest)
    elif why is not None:
        assert not found.versions and found.excluded[0].why is why


def test_a_package_the_base_does_not_track_has_no_candidates() -> None:
    found = candidates(
        canonicalize_name("nvidia-cuda-sanitizer-api-cu12"), SpecifierSet(), HostFacts("3.11", "linux", "x86_64", None)
    )
    assert not found.tracked and not found.versions


def test_a_range_with_no_release_for_the_python_is_an_error_with_a_checked_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (finding,) = by_code(audit(tmp_path, capsys, "tensorflow<2.16\n", PY312))["ED302"]
    assert finding["severity"] == "error"
    assert "tensorflow<2.16 admits tensorflow" in finding["message"]
    assert "2.15.1" in finding["message"] and "Python 3.12" in finding["message"]
    assert finding["fix"].startswith("tensorflow>=2.16.1")


def test_a_release_only_an_sdist_serves_for_the_python_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (finding,) = by_code(audit(tmp_path, capsys, "scikit-image<0.22\n", PY312))["ED302"]
    assert finding["severity"] == "warning" and "from its sdist" in finding["message"]


def test_a_package_that_publishes_only_sdists_is_not_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "ED302" not in by_code(audit(tmp_path, capsys, "deepspeed\n", PY312))


def test_bare_torch_is_judged_as_what_a_fresh_install_gets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = by_code(audit(tmp_path, capsys, "torch\ntorchvision\n", V100))
    (driver,) = found["ED101"]
    assert "torch on Linux x86_64, Python 3.10 resolves today to" in driver["message"]
    # The fix is a build the knowledge says runs there, its companion moved with it.
    assert "+cu118" in driver["fix"] and "torchvision==" in driver["fix"]
    assert "ED900" not in found


def test_the_fix_for_an_rtx_5090_on_driver_570_is_a_cu128_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = by_code(audit(tmp_path, capsys, "torch>=2.4\n", RTX5090))
    (driver,) = found["ED101"]
    assert "+cu128" in driver["fix"]
    # 2.4-2.7 from PyPI carry no sm_120 kernels: the written range is judged in part.
    (arch,) = found["ED102"]
    assert arch["severity"] == "warning" and "raise the floor: torch>=" in arch["fix"]


def test_a_bare_name_is_not_warned_about_old_releases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = by_code(audit(tmp_path, capsys, "torch\nnumpy\n", RTX5090))
    assert "ED102" not in found and "ED203" not in found


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("torch==2.1.0\nnumpy\n", "error"),  # a fresh install gets NumPy 2 beside a NumPy 1 build
        ("torch==2.1.0\nnumpy<2\n", None),
        ("torch>=1.13\nnumpy\n", "warning"),  # the newest torch is fine; the floor admits NumPy 1 builds
        ("torch\nnumpy\n", None),
    ],
)
def test_numpy_2_is_judged_over_both_ranges(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, severity: str | None
) -> None:
    found = by_code(audit(tmp_path, capsys, text, A100)).get("ED203", [])
    assert [f["severity"] for f in found] == ([severity] if severity else [])


def test_pypi_torch_on_windows_leaves_the_gpu_unused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (finding,) = by_code(audit(tmp_path, capsys, "torch\n", WINDOWS_3060))["ED103"]
    assert "cpu build" in finding["message"] and "GPU goes unused" in finding["message"]
    assert "download.pytorch.org/whl/cu" in finding["fix"]


def test_torch_on_a_mac_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = audit(tmp_path, capsys, "torch\ntorchvision\n", MAC)
    assert [f for f in report["findings"] if f["category"] != "not-reproducible"] == []


def test_tensorflow_and_cuda_on_a_mac_cannot_install_its_cuda_wheels_said_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # tensorflow 2.21.0's and-cuda extra asks a dozen nvidia-*-cu12 wheels with no platform marker
    # (dependencies.toml, from its METADATA); none has a macOS wheel (platforms.toml).
    found = by_code(audit(tmp_path, capsys, "tensorflow[and-cuda]\n", MAC))
    assert "ED103" not in found
    (finding,) = found["ED301"]
    assert "pulls in" in finding["message"] and "nvidia-cublas-cu12" in finding["message"]


def test_a_package_without_wheels_for_the_os_gets_a_marker_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (finding,) = by_code(audit(tmp_path, capsys, "xformers==0.0.28\n", MAC))["ED301"]
    assert "sys_platform != 'darwin'" in finding["fix"]


def test_only_a_pytorch_index_limits_torch_to_the_releases_it_has_a_build_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # cu118 builds stop at torch 2.7.1 (torch.release variants): with that index alone, bare torch is 2.7.1.
    text = "--index-url https://download.pytorch.org/whl/cu118\ntorch\n"
    laptop = tmp_path / "laptop.json"
    laptop.write_text(
        '{"schema": "envdoctor.host/1", "os": "linux", "arch": "x86_64", "python": "3.11", "nvidia": null}'
    )
    report = audit(tmp_path, capsys, text, ["--host", str(laptop)])
    (finding,) = by_code(report)["ED103"]
    assert "resolves today to 2.7.1 (cu118 build" in finding["message"]


def test_the_same_finding_on_every_host_is_reported_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    for name, driver in (("old", "470.82.01"), ("new", "580.65.06")):
        profile = {
            "schema": "envdoctor.host/1",
            "os": "linux",
            "arch": "x86_64",
            "python": "3.11",
            "nvidia": {"driver": driver, "gpus": [{"name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0"}]},
        }
        (hosts / f"{name}.json").write_text(json.dumps(profile))
    host_args = ["--host", str(hosts / "old.json"), "--host", str(hosts / "new.json")]
    found = by_code(audit(tmp_path, capsys, "torch\n", host_args))
    assert [f.get("host") for f in found["ED401"]] == [None]
    assert [str(f.get("host")).rsplit("/", 1)[-1] for f in found["ED101"]] == ["old.json"]


def test_a_project_with_a_lockfile_beside_it_is_not_told_its_ranges_are_not_reproducible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '[project]\nname = "demo"\nversion = "1"\ndependencies = ["requests>=2"]\n'
    report = audit(tmp_path, capsys, text, A100, name="pyproject.toml")
    assert "ED401" in by_code(report)
    (tmp_path / "uv.lock").write_text("version = 1\n")
    report = audit(tmp_path, capsys, text, A100, name="pyproject.toml")
    assert "ED401" not in by_code(report)


def test_with_resolve_every_package_the_resolver_picked_is_judged(tmp_path: Path) -> None:
    from packaging.version import Version

    from envdoctor.audit.result import Resolution
    from envdoctor.audit.run import AuditOptions, run_audit
    from envdoctor.host.profile import Gpu, HostProfile, Nvidia
    from envdoctor.requirements import SourceOptions, load_requirement_set

    (tmp_path / "requirements.txt").write_text("some-library-the-base-does-not-know\n")
    requirements = load_requirement_set([str(tmp_path / "requirements.txt")], SourceOptions())
    picks = {
        canonicalize_name("some-library-the-base-does-not-know"): Version("1.0"),
        canonicalize_name("torch"): Version("2.2.0"),
    }
    host = HostProfile(
        os="linux",
        arch="x86_64",
        python="3.11",
        nvidia=Nvidia(driver="470.82.01", gpus=(Gpu(compute_capability="7.0"),)),
    )
    report = run_audit(requirements, [("v100", host)], AuditOptions(resolver=lambda *_: Resolution(picks, None)))
    (driver,) = [f for f in report.findings if f.code == "ED101"]
    assert "torch 2.2.0" in driver.message and "torch==2.2.0 (required by the resolution)" in driver.packages


def test_a_release_a_variant_index_may_or_may_not_serve_is_not_judged_as_pypis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Between a release and the next refresh of the base, the newest torch on PyPI has no release
    # row (as 2.15.0 had none until issue 14): whether the CPU index serves it is unknown, so its
    # build is neither PyPI's CUDA build (a false driver error) nor assumed.
    from envdoctor.kb import facts

    known = facts.torch_release
    monkeypatch.setattr(facts, "torch_release", lambda v: None if v.public == "2.15.0" else known(v))
    text = "--extra-index-url https://download.pytorch.org/whl/cpu\ntorch>=2.1.0\n"
    found = by_code(audit(tmp_path, capsys, text, A100))
    assert "ED101" not in found and "ED102" not in found
    (finding,) = found["ED900"]
    assert "cannot be told" in finding["message"]


def test_a_file_the_dockerfile_does_not_install_is_judged_on_the_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # lm-sys/FastChat's shape: a Dockerfile on a Python 3.9 image that installs two packages, and a
    # pyproject beside it that it never installs. tensorflow 2.15.1 has wheels for Python 3.9-3.11.
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.9-slim@sha256:" + "a" * 64 + "\nRUN pip install --no-cache-dir tensorflow==2.15.1\n"
    )
    (tmp_path / "requirements.txt").write_text("tensorflow==2.15.1\n")
    code = main(["audit", str(tmp_path / "Dockerfile"), str(tmp_path / "requirements.txt"), *PY312, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    (finding,) = by_code(report)["ED302"]  # the host's Python 3.12, for the file the host installs
    assert finding["location"]["path"].endswith("requirements.txt") and "Python 3.12" in finding["message"]


def test_a_project_whose_requires_python_refuses_the_hosts_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # hiyouga/LLaMA-Factory's pyproject.toml asks requires-python >=3.11.0 (tests/fixtures/projects).
    text = '[project]\nname = "demo"\nversion = "1"\nrequires-python = ">=3.11.0"\ndependencies = []\n'
    (finding,) = by_code(audit(tmp_path, capsys, text, V100, name="pyproject.toml"))["ED302"]
    assert finding["location"]["line"] == 4 and "Python >=3.11.0" in finding["message"]
    assert "the host has Python 3.10" in finding["message"]
    assert "ED302" not in by_code(audit(tmp_path, capsys, text, A100, name="pyproject.toml"))


def test_a_cuda_base_image_the_driver_cannot_start_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # base_images: nvidia/cuda 12.9.1 asks NVIDIA_REQUIRE_CUDA "cuda>=12.9 brand=...,driver>=535,driver<536 ...";
    # driver 470.82.01 meets neither CUDA 12.9 (its CUDA is 11.4, cuda.release) nor any brand clause.
    dockerfile = "FROM nvidia/cuda:12.9.1-runtime-ubuntu24.04\nRUN echo built\n"
    (finding,) = by_code(audit(tmp_path, capsys, dockerfile, V100, name="Dockerfile"))["ED101"]
    assert "requires cuda>=12.9" in finding["message"] and "supports CUDA 11.4" in finding["message"]
    # Driver 535 is in a brand clause: whether it starts depends on the GPU's brand, not said here.
    assert "ED101" not in by_code(audit(tmp_path, capsys, dockerfile, A100, name="Dockerfile"))


HOSTS = [
    HostFacts("3.13", "macos", "arm64", None),
    HostFacts("3.12", "linux", "x86_64", ("musl", "1.2.4")),
    HostFacts("3.11", "linux", "aarch64", ("glibc", "2.17")),
    HostFacts("3.10", "linux", "x86_64", ("glibc", "2.12")),
    HostFacts("3.9", "windows", "x86_64", None),
]


@pytest.mark.parametrize("host", HOSTS, ids=lambda host: host.describe())
@pytest.mark.parametrize("name", ["torch", "numpy", "tensorflow", "jaxlib", "vllm", "deepspeed"])
def test_a_release_is_excluded_exactly_when_no_one_wheel_serves_the_host(name: str, host: HostFacts) -> None:
    """The exclusion asks whether the Python's wheel and the platform's are one wheel (the
    release's ``missing`` pairs) without judging the Python and the platform twice: the same
    answer as kb.releases.has_wheel, for every release."""
    from envdoctor.kb import releases as kbr
    from envdoctor.rules.candidates import _exclusion

    assert host.python and host.os and host.arch
    for release in kbr.releases(name):
        wheel = kbr.has_wheel(release, host.python, host.os, host.arch, host.libc)
        expected = (not release.platforms and release.sdist) or wheel is not False
        assert (_exclusion(release, host, None) is None) is expected, release.version


def test_a_pin_of_a_package_the_base_does_not_track_is_its_own_candidate() -> None:
    from packaging.version import Version

    from envdoctor.rules.candidates import Origin, pinned

    found = pinned(canonicalize_name("package-1-2"), SpecifierSet("==1.2.0"), Version("1.2.0"), Origin.PINNED, HOSTS[0])
    assert found.versions == (Version("1.2.0"),) and not found.tracked and not found.excluded
