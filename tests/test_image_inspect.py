"""Built images judged by what they carry (envdoctor/requirements/image_inspect.py): the output of
`docker image inspect` (tests/fixtures/k8s/inspected/README.md says how it was recorded), alone on
a host or as the images of a Kubernetes workload on the node classes it may land on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envdoctor import api
from envdoctor.cli import main
from envdoctor.host.profile import Gpu, HostProfile, Nvidia
from envdoctor.requirements import detect_kind
from envdoctor.requirements.image_inspect import parse_inspect

INSPECTED = Path(__file__).resolve().parent / "fixtures" / "k8s" / "inspected" / "docker-image-inspect.json"
TRAINER_DIGEST = "sha256:" + "ab" * 32


def _host(driver: str, gpu: str, capability: str) -> HostProfile:
    return HostProfile(
        os="linux", arch="x86_64", python="3.12",
        nvidia=Nvidia(driver=driver, gpus=(Gpu(name=gpu, compute_capability=capability),)),
    )  # fmt: skip


def test_the_recorded_output_is_read_as_docker_wrote_it() -> None:
    assert detect_kind(str(INSPECTED)) == "image-inspect"
    trainer, serve = parse_inspect(INSPECTED.read_text(), str(INSPECTED))
    assert trainer.names == ("registry.example.com/ml/trainer:2025.11",)
    assert (trainer.require_cuda, trainer.cuda) == ("cuda>=12.0", "12.8")  # envdoctor's label and ENV
    assert serve.require_cuda is not None and serve.require_cuda.startswith("cuda>=12.4 brand=tesla,driver>=470")
    assert serve.cuda == "12.4.1"  # nvidia/cuda's CUDA_VERSION


@pytest.mark.parametrize(
    ("driver", "gpu", "capability", "refused"),
    [
        # envdoctor's image of CUDA 12.8 wheels asks for cuda>=12.0: the R525 floor of minor-version
        # compatibility, not 12.8's own driver.
        ("470.82.01", "Tesla T4", "7.5", ["registry.example.com/ml/trainer:2025.11"]),
        # ...whose brand clauses admit R525 even on a GeForce, but not R530.
        ("525.60.13", "NVIDIA GeForce RTX 3090", "8.6", []),
        ("530.30.02", "NVIDIA GeForce RTX 3090", "8.6", ["registry.example.com/ml/serve:cu124"]),
        ("550.54.15", "NVIDIA H100 80GB HBM3", "9.0", []),
        # nvidia/cuda 12.4.1's NVIDIA_REQUIRE_CUDA admits data-center R470 (forward compatibility),
        # and no R460 at all.
        ("460.73.01", "A100-SXM4-40GB", "8.0", ["registry.example.com/ml/serve:cu124",
                                                "registry.example.com/ml/trainer:2025.11"]),
    ],
)  # fmt: skip
def test_an_image_named_alone_is_judged_on_the_host(driver: str, gpu: str, capability: str, refused: list[str]) -> None:
    report = api.audit([INSPECTED], hosts=[("host", _host(driver, gpu, capability))])
    assert sorted(f.message.split()[2] for f in report.findings if f.code == "ED101") == refused
    if "registry.example.com/ml/trainer:2025.11" in refused:
        trainer = next(f for f in report.findings if "trainer" in f.message)
        assert trainer.fix == f"use an image built for CUDA {trainer.message.split('supports CUDA ')[1][:4]} " \
            "or older, or upgrade the NVIDIA driver to >= 525.60.13"  # fmt: skip


def _manifest(tmp_path: Path, image: str) -> Path:
    path = tmp_path / "deployment.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: train}\nspec:\n  template:\n    spec:\n"
        f"      containers:\n      - name: main\n        image: {image}\n"
        "        resources: {limits: {nvidia.com/gpu: '1'}}\n"
    )
    return path


def _with_digest(tmp_path: Path) -> Path:
    images: list[dict[str, Any]] = json.loads(INSPECTED.read_text())
    images[0]["RepoDigests"] = [f"registry.example.com/ml/trainer@{TRAINER_DIGEST}"]
    path = tmp_path / "inspect.json"
    path.write_text(json.dumps(images, indent=4))
    return path


@pytest.mark.parametrize(
    "image",
    ["registry.example.com/ml/trainer:2025.11", f"registry.example.com/ml/trainer@{TRAINER_DIGEST}"],
)
def test_a_workloads_image_is_judged_by_its_inspect_output_on_each_class(tmp_path: Path, image: str) -> None:
    hosts = [  # two node classes of a cluster
        ("a100-r460", _host("460.73.01", "A100-SXM4-40GB", "8.0")._replace(nodes=("a100-0",))),
        ("h100-r550", _host("550.54.15", "NVIDIA H100 80GB HBM3", "9.0")._replace(nodes=("h100-0", "h100-1"))),
    ]
    report = api.audit([_manifest(tmp_path, image), _with_digest(tmp_path)], hosts=hosts)
    assert sorted((f.code, f.host, f.message[:24]) for f in report.findings) == [
        ("ED101", "a100-r460", "Deployment train: its im"),
        ("ED101", "a100-r460", "the image registry.examp"),  # the other image, which no workload runs
        ("ED701", "a100-r460", "Deployment train asks fo"),
    ]
    ed101 = next(f for f in report.findings if f.message.startswith("Deployment"))
    assert ed101.message.startswith(f"Deployment train: its image {image} requires cuda>=12.0 (NVIDIA_REQUIRE_CUDA)")


def test_an_image_known_to_neither_is_said_to_be_not_judged(tmp_path: Path) -> None:
    hosts = [("h100-r550", _host("550.54.15", "NVIDIA H100 80GB HBM3", "9.0"))]
    report = api.audit([_manifest(tmp_path, "registry.example.com/ml/other:1")], hosts=hosts)
    assert [(f.code, f.severity.label) for f in report.findings] == [("ED900", "info")]
    assert "docker image inspect registry.example.com/ml/other:1" in (report.findings[0].fix or "")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda images: images[0].update(RepoTags=["evil\x1b[2J:1"]), "[0]: an image name that is not"),
        (lambda images: images[0].update(RepoTags="x:1"), "[0].RepoTags: expected a list of strings"),
        (lambda images: images[0].update(RepoDigests=["x@sha256:zz"]), "an image name that is not an image reference"),
        (lambda images: images.clear() or images.append([1]), "not docker image inspect output"),
    ],
)
def test_hostile_inspect_output_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Any, problem: str
) -> None:
    images = json.loads(INSPECTED.read_text())
    change(images)
    path = tmp_path / "inspect.json"
    path.write_text(json.dumps(images))
    assert main(["audit", str(path), "--kind", "image-inspect", "--driver", "550.54.15"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and problem in err and "\x1b" not in err


@pytest.mark.parametrize(
    "require",
    [
        "cuda>=99.0\n\x1b[31mforged",
        "cuda>=abc",  # no version: it crashed the audit (exit 3)
        "cuda>=12.0 brand=tesla,driver=535",  # an operator the judgement does not read
        "cuda<13.0",
        "brand=tesla",  # no bound at all
        "",
    ],
)
def test_a_requirement_the_audit_cannot_read_is_set_aside_and_never_printed(tmp_path: Path, require: str) -> None:
    images = json.loads(INSPECTED.read_text())
    images[0]["Config"]["Env"] = [f"NVIDIA_REQUIRE_CUDA={require}", "CUDA_VERSION=12.8.1;rm"]
    path = tmp_path / "inspect.json"
    path.write_text(json.dumps(images))
    (trainer, _) = parse_inspect(path.read_text(), str(path))
    assert (trainer.require_cuda, trainer.cuda) == (None, "12.8")  # the label's, not the forged variable
    report = api.audit([path], hosts=[("host", _host("470.82.01", "Tesla T4", "7.5"))])
    # Judged by its CUDA alone (a newer major than the driver's), never by the unreadable requirement.
    assert all("forged" not in f.message and "NVIDIA_REQUIRE_CUDA" not in f.message for f in report.findings)


@pytest.mark.parametrize(
    ("named", "inspected", "same"),
    [
        ("docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04", "nvidia/cuda:12.4.1-runtime-ubuntu22.04", True),
        ("python", "docker.io/library/python:latest", True),  # no tag is latest
        ("python:3.12", "python:3.11", False),
        (f"ml/app@{TRAINER_DIGEST}", f"ml/app@{TRAINER_DIGEST}", True),
        (f"ml/app@{TRAINER_DIGEST}", "ml/app:1", False),  # a digest is matched by digest alone
        ("registry.example.com:5000/ml/app:1", "registry.example.com:5000/ml/app:1", True),
        ("other.example.com/ml/app:1", "registry.example.com/ml/app:1", False),
    ],
)
def test_a_reference_names_an_inspected_image_as_docker_resolves_it(named: str, inspected: str, same: bool) -> None:
    from envdoctor.requirements.dockerfile import base_image
    from envdoctor.requirements.image_inspect import matching
    from envdoctor.requirements.model import Location

    image = parse_inspect(json.dumps([{"RepoTags": [inspected], "Config": {}}]), "inspect.json")
    assert (matching(image, base_image(named, None, Location("deployment.yaml", 9))) is not None) is same
