"""A Kubernetes cluster as hosts (envdoctor/host/fleet.py): kubectl's list of nodes grouped into
node classes, read back by --host, and judged class by class.

The mixed cluster is assembled from real node outputs (tests/fixtures/hosts/k8s-node, each with
its provenance): the RKE2 A16 vGPU node as two nodes, the g4dn T4 node's GFD labels (as pasted in
NVIDIA/gpu-operator#334) as three, and the A16 node without its GPU labels and capacity as two CPU
nodes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from envdoctor import api
from envdoctor.cli import main
from envdoctor.host import fleet

NODES = Path(__file__).resolve().parent / "fixtures" / "hosts" / "k8s-node"


def _a16_node() -> dict[str, Any]:
    listing = json.loads((NODES / "a16-4q-vgpu-rke2-edgexr.json").read_text())
    node: dict[str, Any] = listing["items"][0]
    return node


def _named(node: dict[str, Any], name: str) -> dict[str, Any]:
    copied = copy.deepcopy(node)
    copied["metadata"]["name"] = name
    return copied


def _t4_node(name: str) -> dict[str, Any]:
    labels = yaml.safe_load((NODES / "t4-g4dn-gfd-labels-gpu-operator-334.yaml").read_text())
    labels |= {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def _cpu_node(name: str) -> dict[str, Any]:
    node = _named(_a16_node(), name)
    node["metadata"]["labels"] = {
        k: v for k, v in node["metadata"]["labels"].items() if not k.startswith("nvidia.com/")
    }
    for field in ("capacity", "allocatable"):
        node["status"][field].pop("nvidia.com/gpu", None)
    return node


def _cluster() -> dict[str, Any]:
    items = [_named(_a16_node(), "gpu-a16-1"), _named(_a16_node(), "gpu-a16-0")]
    items += [_t4_node(f"gpu-t4-{index}") for index in range(3)]
    items += [_cpu_node("cpu-0"), _cpu_node("cpu-1")]
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def _written(path: Path, listing: dict[str, Any]) -> Path:
    path.write_text(json.dumps(listing, indent=4))
    return path


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    return _written(tmp_path / "nodes.json", _cluster())


def test_nodes_are_grouped_into_classes_named_for_their_gpus_and_driver(cluster: Path) -> None:
    classes = fleet.classes_from_node_list(cluster.read_text(), str(cluster))
    assert [(item.name, item.profile.nodes) for item in classes] == [
        ("a16-4q-r550", ("gpu-a16-0", "gpu-a16-1")),
        ("cpu-x86_64", ("cpu-0", "cpu-1")),
        ("t4-r470", ("gpu-t4-0", "gpu-t4-1", "gpu-t4-2")),
    ]
    t4 = classes[2].profile
    assert t4.driver is not None and (t4.driver.driver, t4.driver.cuda) == ("470.82.01", "11.4")
    assert classes[1].profile.nvidia is not None and classes[1].profile.driver is None  # known: no GPU


def test_yaml_is_read_as_json_is(cluster: Path, tmp_path: Path) -> None:
    as_yaml = tmp_path / "nodes.yaml"
    as_yaml.write_text(yaml.safe_dump(_cluster()))
    from_yaml = fleet.classes_from_node_list(as_yaml.read_text(), str(as_yaml))
    assert from_yaml == fleet.classes_from_node_list(cluster.read_text(), str(cluster))


def test_probe_writes_a_fleet_file_that_host_reads_back(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["probe", "--import", str(cluster)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "3 node class(es), 7 nodes:",
        "  a16-4q-r550 (2 nodes): linux x86_64, driver 550.90.07 (CUDA 12.4), NVIDIA-A16-4Q (8.6)",
        "  cpu-x86_64 (2 nodes): linux x86_64, no GPU",
        "  t4-r470 (3 nodes): linux x86_64, driver 470.82.01 (CUDA 11.4), Tesla-T4 (7.5)",
    ]
    saved = tmp_path / "fleet.json"
    assert main(["probe", "--import", str(cluster), "--format", "json", "-o", str(saved)]) == 0
    assert fleet.fleet_from_json(saved.read_text(), str(saved)) == fleet.classes_from_node_list(
        cluster.read_text(), str(cluster)
    )


def test_an_audit_judges_every_class_and_says_which_run_the_set(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # torch 2.4.0 from PyPI is the CUDA 12.1 build: driver 550 runs it, the T4 pool's 470 does not.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("torch==2.4.0\n")
    assert main(["audit", str(requirements), "--host", str(cluster), "--python", "3.11"]) == 1
    out = capsys.readouterr().out
    assert "2 of 3 node classes (4 of 7 nodes) run this set" in out
    assert "  t4-r470 (3 nodes): ED101 torch 2.4.0 (cu121 build" in out
    assert main(["audit", str(requirements), "--host", str(cluster), "--python", "3.11", "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["node_classes"] == [
        {"name": "a16-4q-r550", "nodes": 2, "runs": True, "errors": []},
        {"name": "cpu-x86_64", "nodes": 2, "runs": True, "errors": []},
        {"name": "t4-r470", "nodes": 3, "runs": False, "errors": ["ED101"]},
    ]


def test_the_api_reads_a_fleet_as_hosts(cluster: Path, tmp_path: Path) -> None:
    from envdoctor.host.select import load_hosts

    hosts = load_hosts(str(cluster))
    (tmp_path / "requirements.txt").write_text("torch==2.4.0\n")
    report = api.audit([tmp_path / "requirements.txt"], hosts=hosts)
    assert [(v.name, v.nodes, bool(v.errors)) for v in report.node_classes()] == [
        ("a16-4q-r550", 2, False),
        ("cpu-x86_64", 2, False),
        ("t4-r470", 3, True),
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda items: items[0]["metadata"].__setitem__("name", "Bad Name\x1b[31m"), "is not a Kubernetes node name"),
        (lambda items: items[0]["metadata"].pop("name"), "none is not a Kubernetes node name"),
    ],
)
def test_a_hostile_node_list_is_one_line_naming_the_file(
    tmp_path: Path, change: Any, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _cluster()
    change(document["items"])
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(document))
    assert main(["probe", "--import", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and problem in err


def test_a_fleet_file_with_a_bad_class_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"schema": fleet.FLEET_SCHEMA, "classes": [{"name": "a\nb", "profile": {}}]}))
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert main(["audit", str(tmp_path / "requirements.txt"), "--host", str(path)]) == 2
    assert "classes[0].name" in capsys.readouterr().err


def test_a_label_that_is_not_a_version_leaves_the_driver_unknown_and_never_reaches_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _cluster()
    document["items"][2]["metadata"]["labels"]["nvidia.com/cuda.driver.major"] = "470\x1b[31m\nforged"
    path = tmp_path / "nodes.json"
    path.write_text(json.dumps(document))
    assert main(["probe", "--import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  t4 (1 node): linux x86_64, Tesla-T4 (7.5)" in out and "forged" not in out and "\x1b" not in out


# --- placement: dockerfile --k8s ---------------------------------------------------------------

LOCK = (
    Path(__file__).resolve().parent.parent
    / "images"
    / "blackwell-torch"
    / "lock"
    / "requirements.linux-x86_64-py3.12.txt"
)


def _placed(cluster: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, Any]]:
    """What `dockerfile --k8s` said, and the placement it wrote."""
    assert main(["dockerfile", str(LOCK), "--host", str(cluster), "--k8s", "-o", str(out)]) == 0
    return capsys.readouterr().out, yaml.safe_load((out / "placement.yaml").read_text())


def _landing(placement: dict[str, Any], listing: dict[str, Any]) -> list[str]:
    """The nodes a pod with this placement may land on, as the scheduler decides: the affinity
    evaluated against each node's own labels (as kubectl printed them), and the GPU it asks for
    among what the node offers (its capacity; a node listed without one is taken to offer it)."""
    from envdoctor.image.placement import selector_admits

    terms = [term["matchExpressions"] for term in placement["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]]  # fmt: skip
    (asked,) = placement["resources"]["limits"]
    return sorted(
        node["metadata"]["name"]
        for node in listing["items"]
        if selector_admits(terms, node["metadata"]["labels"])
        and asked in node.get("status", {}).get("capacity", {asked: "1"})
    )


def test_the_placement_admits_exactly_the_nodes_whose_class_runs_the_image(
    cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # torch 2.8.0 from PyPI (CUDA 12.8): the A16 pool's driver 550 runs it; the T4 pool's 470 does not;
    # the CPU nodes offer no GPU.
    out = tmp_path / "image"
    said, placement = _placed(cluster, out, capsys)
    assert "placement.yaml: admits a16-4q-r550" in said
    assert "leaves out t4-r470: ED101 torch 2.8.0 (cu128 build" in said
    assert _landing(placement, _cluster()) == ["gpu-a16-0", "gpu-a16-1"]
    assert placement["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    # The same inputs write the same bytes.
    again = tmp_path / "again"
    assert main(["dockerfile", str(LOCK), "--host", str(cluster), "--k8s", "-o", str(again)]) == 0
    assert (again / "placement.yaml").read_bytes() == (out / "placement.yaml").read_bytes()


@pytest.mark.parametrize(
    ("driver", "admitted"),
    [("525.60.13", True), ("525.60.12", False), ("525.61.01", True), ("524.99.99", False), ("580.65.06", True)],
)
def test_the_driver_floor_is_met_label_by_label(driver: str, admitted: bool) -> None:
    from envdoctor.image.placement import _at_least, selector_admits

    major, minor, rev = driver.split(".")
    labels = {"nvidia.com/cuda.driver.major": major, "nvidia.com/cuda.driver.minor": minor}
    labels["nvidia.com/cuda.driver.rev"] = rev
    assert selector_admits(_at_least("525.60.13"), labels) is admitted


def test_k8s_needs_a_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dockerfile", str(LOCK), "--driver", "575.57.08", "--gpu", "12.0", "--k8s", "-o", str(tmp_path)]) == 2
    assert "--k8s places the image on a cluster's node classes" in capsys.readouterr().err


# --- manifests: audit deployment.yaml --host nodes.json ------------------------------------------

MANIFESTS = Path(__file__).resolve().parent / "fixtures" / "k8s"


def test_a_workload_is_judged_on_the_classes_its_affinity_admits(
    cluster: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = MANIFESTS / "trainer-and-placed.yaml"
    assert main(["audit", str(manifest), "--host", str(cluster), "--format", "json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    judged = sorted((f["code"], f["location"]["line"], f["host"]) for f in findings)
    # The Deployment (line 17: its image) may land on the T4 pool, whose driver 470 the CUDA 13 image
    # refuses; the Pod asks for the A16 pool by product, which runs it: nothing is said of it.
    assert judged == [("ED101", 17, "t4-r470"), ("ED701", 3, "t4-r470")]
    ed101 = next(f for f in findings if f["code"] == "ED101")
    assert ed101["message"].startswith("Deployment trainer: its image nvidia/cuda:13.0.1-runtime-ubuntu24.04 requires")


def test_an_image_the_knowledge_base_does_not_know_is_said_to_be_not_judged(cluster: Path) -> None:
    from envdoctor.host.select import load_hosts

    report = api.audit([MANIFESTS / "vectoradd-pod-bioturing.yaml"], hosts=load_hosts(str(cluster)))
    # Said once, for the GPU classes it may land on, with how to have it judged.
    assert [(f.code, f.severity.label, f.host) for f in report.findings] == [("ED900", "info", "a16-4q-r550, t4-r470")]
    assert "docker image inspect nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda10.2" in (report.findings[0].fix or "")
    assert [v.name for v in report.node_classes() if not v.errors] == ["a16-4q-r550", "cpu-x86_64", "t4-r470"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - image: [a\n", "not valid YAML"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - image: 'a b\\x1b'\n", "image"),
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 1}\n", "no pod spec"),
    ],
)
def test_a_malformed_manifest_is_one_line(
    tmp_path: Path, text: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(text)
    assert main(["audit", str(path), "--os", "linux"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and str(path) in err


def test_the_placement_is_valid_against_the_kubernetes_api_schema(cluster: Path, tmp_path: Path) -> None:
    """Checked with the OpenAPI definitions of Kubernetes 1.35 (fixtures/k8s/k8s-affinity-openapi.toml)."""
    import jsonschema

    schema = json.loads((MANIFESTS / "k8s-affinity-openapi.json").read_text())
    assert main(["dockerfile", str(LOCK), "--host", str(cluster), "--k8s", "-o", str(tmp_path / "image")]) == 0
    placement = yaml.safe_load((tmp_path / "image" / "placement.yaml").read_text())
    for part, definition in (("affinity", "Affinity"), ("resources", "ResourceRequirements")):
        root = {"definitions": schema["definitions"], "$ref": f"#/definitions/io.k8s.api.core.v1.{definition}"}
        jsonschema.Draft4Validator(root).validate(placement[part])
    with pytest.raises(jsonschema.ValidationError):  # the check can fail: a value of the wrong type
        root = {"definitions": schema["definitions"], "$ref": "#/definitions/io.k8s.api.core.v1.ResourceRequirements"}
        jsonschema.Draft4Validator(root).validate({"limits": {"nvidia.com/gpu": ["1"]}})


def test_a_real_cluster_of_cpu_nodes_is_one_class(tmp_path: Path) -> None:
    # Three AKS nodes, as kubectl printed them (fixtures/k8s/aks-cpu-only-3-nodes.toml).
    nodes = MANIFESTS / "aks-cpu-only-3-nodes.json"
    classes = fleet.classes_from_node_list(nodes.read_text(), str(nodes))
    assert [(item.name, len(item.profile.nodes)) for item in classes] == [("cpu-x86_64", 3)]


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  x: " + "[" * 3000 + "]" * 3000 + "\n", "audit"),
        ("kind: List\nitems:\n- kind: Node\n- kind: Node\n  x: " + "[" * 3000 + "]" * 3000 + "\n", "probe"),
    ],
)
def test_yaml_nested_past_any_manifest_is_one_line_not_a_crash(
    tmp_path: Path, text: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    argv = ["audit", str(path), "--os", "linux"] if command == "audit" else ["probe", "--import", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nested too deep" in err


# --- a larger mixed cluster: real GFD label sets of H100, A100 (MIG) and T4 (time-sliced) nodes ----


def _labels(stem: str) -> dict[str, str]:
    """A published label set (tests/fixtures/hosts/k8s-node/STEM.toml says where from), as it was
    printed: a JSON object, `"key": "value",` lines cut from one, or `key=value` lines (and the
    "[...]" where the excerpt was cut)."""
    path = next(path for path in NODES.glob(stem + ".*") if path.suffix != ".toml")
    text = path.read_text()
    if text.lstrip().startswith("{"):
        labels: dict[str, str] = json.loads(text)
    elif '": "' in text:
        labels = json.loads("{" + text.strip().rstrip(",") + "}")
    else:
        labels = dict(line.split("=", 1) for line in text.split() if "=" in line)
    return {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"} | labels


def _labelled_node(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A node as kubectl prints it, its capacity as the device plugin advertises the labels' GPUs:
    MIG slices per profile under the mixed strategy, else nvidia.com/gpu."""
    slices = {
        f"nvidia.com/{key.removeprefix('nvidia.com/').removesuffix('.count')}": value
        for key, value in labels.items()
        if key.startswith("nvidia.com/mig-") and key.endswith(".count")
    }
    capacity = slices if labels.get("nvidia.com/mig.strategy") == "mixed" else {
        "nvidia.com/gpu": labels["nvidia.com/gpu.count"]}  # fmt: skip
    return {"kind": "Node", "metadata": {"name": name, "labels": labels}, "status": {"capacity": capacity}}


def _mixed_cluster() -> dict[str, Any]:
    items = _cluster()["items"]
    items += [_labelled_node(f"h100-{i}", _labels("h100-80gb-hbm3-r550-mig-single-labels")) for i in range(3)]
    items += [_labelled_node(f"h100-mig-{i}", _labels("h100-80gb-hbm3-r550-mig-mixed-labels")) for i in range(2)]
    items += [_labelled_node(f"a100-gce-{i}", _labels("a100-sxm4-40gb-gce-r460-mig-single-labels")) for i in range(2)]
    items.append(_labelled_node("a100-ocp-0", _labels("a100-sxm4-40gb-ocp-r470-mig-mixed-labels")))
    items.append(_labelled_node("t4-shared-0", _labels("t4-g4dn-xlarge-ocp-r510-timeslicing-labels")))
    return {"apiVersion": "v1", "kind": "List", "items": items}


@pytest.fixture
def mixed_cluster(tmp_path: Path) -> Path:
    return _written(tmp_path / "mixed.json", _mixed_cluster())


def test_mig_and_time_sliced_nodes_are_classes_of_their_own(mixed_cluster: Path) -> None:
    classes = fleet.classes_from_node_list(mixed_cluster.read_text(), str(mixed_cluster))
    assert [(item.name, len(item.profile.nodes), fleet.gpu_resource(item.profile)) for item in classes] == [
        ("a100-sxm4-40gb-mig-1g.5gb-r460", 2, "nvidia.com/gpu"),  # MIG single: each slice is a GPU
        ("a100-sxm4-40gb-mig-r470", 1, "nvidia.com/mig-"),  # MIG mixed: slices by profile
        ("a16-4q-r550", 2, "nvidia.com/gpu"),
        ("cpu-x86_64", 2, None),
        ("h100-80gb-hbm3-mig-r550", 2, "nvidia.com/mig-"),
        ("h100-80gb-hbm3-r550", 3, "nvidia.com/gpu"),  # MIG capable, all-disabled
        ("t4-r470", 3, "nvidia.com/gpu"),
        ("t4-shared-r510", 1, "nvidia.com/gpu"),  # time-sliced: GFD renames the product
    ]
    a100 = classes[0].profile.driver
    assert a100 is not None and a100.gpus is not None
    assert (a100.driver, len(a100.gpus), a100.gpus[0].compute_capability, a100.gpus[0].memory_mib) == (
        "460.73.01", 7, "8.0", 4864)  # fmt: skip


def test_the_placement_leaves_out_classes_that_offer_only_mig_slices(
    mixed_cluster: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "image"
    said, placement = _placed(mixed_cluster, out, capsys)
    assert "placement.yaml: admits a16-4q-r550, h100-80gb-hbm3-r550" in said
    assert "leaves out h100-80gb-hbm3-mig-r550: it offers its GPUs only as MIG slices" in said
    assert "leaves out a100-sxm4-40gb-mig-r470: ED101" in said  # the driver first: slices or not, no
    assert "leaves out a100-sxm4-40gb-mig-1g.5gb-r460: ED101 torch 2.8.0 (cu128 build" in said
    assert "leaves out t4-shared-r510: ED101" in said
    assert "# Leaves out h100-80gb-hbm3-mig-r550: MIG slices only" in (out / "placement.yaml").read_text()
    assert _landing(placement, _mixed_cluster()) == ["gpu-a16-0", "gpu-a16-1", "h100-0", "h100-1", "h100-2"]


def test_a_workload_asking_for_a_mig_slice_is_judged_only_where_slices_are(mixed_cluster: Path, tmp_path: Path) -> None:
    from envdoctor.host.select import load_hosts

    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: sliced}\nspec:\n  template:\n    spec:\n"
        "      containers:\n      - name: main\n        image: nvidia/cuda:13.0.1-runtime-ubuntu24.04\n"
        "        resources: {limits: {nvidia.com/mig-1g.10gb: '1'}}\n"
    )
    report = api.audit([manifest], hosts=load_hosts(str(mixed_cluster)))
    # Only the classes that offer slices take it: the A100 pool's driver 470 refuses the CUDA 13 image
    # (the H100 pool's 550 runs it, a datacenter GPU); the T4 pool's 470 would too, but offers no slices.
    assert sorted((f.code, f.host) for f in report.findings) == [
        ("ED101", "a100-sxm4-40gb-mig-r470"),
        ("ED701", "a100-sxm4-40gb-mig-r470"),
    ]
