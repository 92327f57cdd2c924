"""A Kubernetes cluster as hosts: its nodes (``kubectl get nodes -o json`` or ``-o yaml``) grouped
into node classes, one host profile each, named after the class and carrying its node names.

Nodes are of one class when they agree on what decides whether a set runs there: OS,
architecture, NVIDIA driver and CUDA, and the GPU models, compute capabilities and MIG mode
(how many GPUs a node has does not). GPU facts come from NVIDIA GPU Feature Discovery's labels;
a node with neither those labels nor ``nvidia.com/gpu`` capacity offers pods no GPU (no device
plugin runs there), and is a CPU node.

A fleet file (``envdoctor probe --import nodes.json --format json``) holds the classes; ``--host``
reads it, or the kubectl output itself, as one host per class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from envdoctor.errors import InputError
from envdoctor.host.profile import (
    MAX_NODES,
    NODE_NAME,
    HostProfile,
    NoNvidia,
    checked_profile,
    profile_from_dict,
    profile_to_dict,
)
from envdoctor.safety import quote
from envdoctor.structured import mapping_at, parse_json, read_yaml

FLEET_SCHEMA = "envdoctor.fleet/1"
_NAME = re.compile(r"[a-z0-9](?:[-a-z0-9._]{0,61}[a-z0-9])?")  # a class name: a word for tags and file names


# The Kubernetes names of the architectures, and the labels GPU Feature Discovery gives a node.
K8S_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
DRIVER_LABELS = ("nvidia.com/cuda.driver.major", "nvidia.com/cuda.driver.minor", "nvidia.com/cuda.driver.rev")
COMPUTE_LABELS = ("nvidia.com/gpu.compute.major", "nvidia.com/gpu.compute.minor")
PRODUCT_LABEL, COUNT_LABEL = "nvidia.com/gpu.product", "nvidia.com/gpu.count"
_KNOWN_LABELS = frozenset(
    {"kubernetes.io/os", "kubernetes.io/arch", *DRIVER_LABELS, *COMPUTE_LABELS, PRODUCT_LABEL, COUNT_LABEL}
)

Requirement = dict[str, Any]  # a NodeSelectorRequirement: key, operator, values


class NodeClass(NamedTuple):
    name: str
    profile: HostProfile  # its ``nodes``: the nodes of the class


def is_node_list(text: str) -> bool:
    """Whether ``text`` looks like kubectl's list of several nodes (JSON or YAML); one node is read
    as one host."""
    return _LIST.search(text) is not None and len(_NODE.findall(text)) > 1


# kind: List and kind: Node, as JSON writes them (anywhere) or YAML (a line of its own).
_LIST = re.compile(r'"kind"\s*:\s*"List"|^\s*kind:\s*["\']?List["\']?\s*$', re.MULTILINE)
_NODE = re.compile(r'"kind"\s*:\s*"Node"|^\s*(?:-\s+)?kind:\s*["\']?Node["\']?\s*$', re.MULTILINE)


def is_fleet(text: str) -> bool:
    """Whether ``text`` is a fleet file: its schema, near the start (a host profile's is another)."""
    return _FLEET.search(text[:4096]) is not None


_FLEET = re.compile(r'"schema"\s*:\s*"envdoctor\.fleet/1"')


def classes_from_node_list(text: str, path: str) -> list[NodeClass]:
    """The node classes of a ``kubectl get nodes`` output; InputError naming ``path`` when it is
    not one, or names a node the API would not accept."""
    nodes = _nodes(_parsed(text, path), path)
    if not nodes:
        raise InputError(path, "a list with no Node in it")
    if len(nodes) > MAX_NODES:
        raise InputError(path, f"{len(nodes):,} nodes; envdoctor reads at most {MAX_NODES:,}")
    grouped: dict[tuple[Any, ...], list[tuple[str, HostProfile]]] = {}
    for index, node in enumerate(nodes):
        name, profile = _node(node, index, path)
        grouped.setdefault(_class_key(profile), []).append((name, profile))
    classes = []
    for key, members in grouped.items():
        members.sort()
        names = tuple(name for name, _ in members)
        profile = members[0][1]._replace(nodes=names, import_format="kubernetes-nodes")
        classes.append((_class_name(profile), repr(key), checked_profile(profile, path)))
    classes.sort()  # by name; classes of one name in a fixed order
    return [NodeClass(name, profile) for name, profile in _unique([(name, profile) for name, _, profile in classes])]


def fleet_to_json(classes: Sequence[NodeClass]) -> str:
    document = {
        "schema": FLEET_SCHEMA,
        "classes": [{"name": item.name, "profile": profile_to_dict(item.profile)} for item in classes],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def fleet_from_json(text: str, path: str) -> list[NodeClass]:
    data = parse_json(text, path)
    if not isinstance(data, dict) or data.get("schema") != FLEET_SCHEMA or not isinstance(data.get("classes"), list):
        raise InputError(path, f'not a fleet file: expected {{"schema": "{FLEET_SCHEMA}", "classes": [...]}}')
    classes = []
    for index, item in enumerate(data["classes"]):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not _NAME.fullmatch(item["name"]):
            raise InputError(path, f"classes[{index}].name: expected a class name like a100-sxm4-40gb-r535")
        classes.append(NodeClass(item["name"], profile_from_dict(item.get("profile"), path)))
    if len({item.name for item in classes}) != len(classes):
        raise InputError(path, "two classes have one name")
    return classes


def describe(item: NodeClass) -> str:
    """ "a100-sxm4-40gb-r535 (7 nodes)" """
    return f"{item.name} ({nodes_counted(len(item.profile.nodes))})"


def nodes_counted(count: int) -> str:
    return f"{count} node{'s' if count != 1 else ''}"


def summary_line(item: NodeClass) -> str:
    """One line for a class: its OS and architecture, driver and CUDA, GPUs."""
    profile, nvidia = item.profile, item.profile.driver
    parts = [f"{profile.os or 'unknown OS'} {profile.arch or 'unknown arch'}"]
    if isinstance(profile.nvidia, NoNvidia):
        parts.append("no GPU")
    elif nvidia is not None:
        if nvidia.driver:
            parts.append(f"driver {nvidia.driver}" + (f" (CUDA {nvidia.cuda})" if nvidia.cuda else ""))
        models = sorted({f"{gpu.name or 'GPU'} ({gpu.compute_capability or '?'})" for gpu in nvidia.gpus or ()})
        if models:
            parts.append(", ".join(models))
    return f"{describe(item)}: {', '.join(parts)}"


WHOLE_GPUS, MIG_SLICES = "nvidia.com/gpu", "nvidia.com/mig-"


def gpu_resource(profile: HostProfile) -> str | None:
    """The extended resource a node of this class offers pods its GPUs as: ``nvidia.com/gpu``, or,
    where GFD's mixed MIG strategy split every GPU into slices, ``nvidia.com/mig-`` (then one
    resource per MIG profile, ``nvidia.com/mig-1g.5gb``, and no ``nvidia.com/gpu``). None: no GPU.

    The mixed strategy is told from the labels a class was read from: MIG on, yet a product name
    without the profile that the single strategy appends (``A100-SXM4-40GB-MIG-1g.5gb``)."""
    nvidia = profile.driver
    gpus = nvidia.gpus if nvidia is not None else None
    if not gpus:
        return None
    if all(gpu.mig and "-MIG-" not in (gpu.name or "") for gpu in gpus):
        return MIG_SLICES
    return WHOLE_GPUS


def offers_any(profile: HostProfile, resources: Sequence[str]) -> bool:
    """Whether a node of this class offers one of the GPU ``resources`` a pod asks for."""
    offered = gpu_resource(profile)
    if offered == MIG_SLICES:
        return any(resource.startswith(MIG_SLICES) for resource in resources)
    return offered is not None and offered in resources


def selector_admits(terms: Sequence[Sequence[Requirement]], labels: Mapping[str, str]) -> bool:
    """Whether a node with ``labels`` matches the nodeSelectorTerms (ORed; each term's
    expressions ANDed), as the scheduler evaluates them."""
    return any(all(_matches(expression, labels) for expression in term) for term in terms)


def gfd_labels(profile: HostProfile) -> dict[str, str]:
    """The labels GPU Feature Discovery and the kubelet give a node of this profile."""
    labels = {"kubernetes.io/os": profile.os or "", "kubernetes.io/arch": K8S_ARCH.get(profile.arch or "", "")}
    nvidia = profile.driver
    if nvidia is not None and nvidia.driver:
        labels |= dict(zip(DRIVER_LABELS, nvidia.driver.split("."), strict=False))
    gpus = nvidia.gpus or () if nvidia else ()
    capabilities = [gpu.compute_capability for gpu in gpus if gpu.compute_capability]
    if capabilities:
        labels |= dict(zip(COMPUTE_LABELS, capabilities[0].split("."), strict=True))
    if gpus and gpus[0].name:
        labels[PRODUCT_LABEL] = gpus[0].name.replace(" ", "-")  # as GFD writes a product name
    if gpus:
        labels[COUNT_LABEL] = str(len(gpus))
    return {key: value for key, value in labels.items() if value}


def _matches(expression: Requirement, labels: Mapping[str, str]) -> bool:
    key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
    value = labels.get(key)
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if value is None or not value.isdigit():
        return False
    return int(value) > int(values[0]) if operator == "Gt" else int(value) < int(values[0])


def class_admitted(terms: Sequence[Sequence[Requirement]], profile: HostProfile) -> bool:
    """Whether a pod with these nodeSelectorTerms may land on a node of this class. An expression
    on a label envdoctor does not know of the class (a pool name, an instance type) is taken as
    met: the class is judged rather than passed over."""
    labels = gfd_labels(profile)
    return any(
        all(expression["key"] not in _KNOWN_LABELS or _matches(expression, labels) for expression in term)
        for term in terms
    )


def _parsed(text: str, path: str) -> object:
    if text.lstrip().startswith(("{", "[")):
        return parse_json(text, path)
    import yaml

    return read_yaml(lambda: yaml.safe_load(text), path, "a list of nodes")


def _nodes(data: object, path: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, dict):
        raise InputError(path, "not kubectl's list of nodes (a List whose items are Nodes)")
    items = data.get("items") if data.get("kind") == "List" or "items" in data else [data]
    if not isinstance(items, list):
        raise InputError(path, "items: expected a list of Nodes")
    return [item for item in items if isinstance(item, dict) and item.get("kind", "Node") == "Node"]


def _node(node: Mapping[str, Any], index: int, path: str) -> tuple[str, HostProfile]:
    """One node's name and host profile."""
    from envdoctor.host.importers import profile_from_node_labels

    metadata = mapping_at(node, "metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not NODE_NAME.matches(name):
        shown = quote(name) if isinstance(name, str) else "none"
        raise InputError(path, f"items[{index}].metadata.name: {shown} is not a Kubernetes node name")
    labels = {str(key): value for key, value in mapping_at(metadata, "labels").items() if isinstance(value, str)}
    status = mapping_at(node, "status")
    info = mapping_at(status, "nodeInfo")
    # The kubelet's own report, where the labels do not say.
    for label, field in (("kubernetes.io/os", "operatingSystem"), ("kubernetes.io/arch", "architecture")):
        if label not in labels and isinstance(info.get(field), str):
            labels[label] = info[field]
    gpus = mapping_at(status, "capacity").get("nvidia.com/gpu")
    if "nvidia.com/gpu.count" not in labels and isinstance(gpus, str) and gpus.isdigit():
        labels["nvidia.com/gpu.count"] = gpus
    profile = profile_from_node_labels(labels)
    if not any(key.startswith("nvidia.com/") for key in labels) and gpus in (None, "0"):
        reason = "no GPU Feature Discovery labels and no nvidia.com/gpu capacity: no GPU for pods"
        profile = profile._replace(nvidia=NoNvidia.NONE, reasons={**profile.reasons, "nvidia": reason})
    return name, checked_profile(profile, f"{path}: node {name}")


def _class_key(profile: HostProfile) -> tuple[Any, ...]:
    nvidia = profile.driver
    gpus = frozenset((g.name, g.compute_capability, g.mig) for g in (nvidia.gpus or ())) if nvidia else None
    return (
        profile.os,
        profile.arch,
        isinstance(profile.nvidia, NoNvidia),
        nvidia.driver if nvidia else None,
        nvidia.cuda if nvidia else None,
        tuple(sorted(gpus, key=repr)) if gpus is not None else None,
    )


def _class_name(profile: HostProfile) -> str:
    """A100 nodes on driver 535: "a100-sxm4-40gb-r535" ("a100-sxm4-40gb-mig-r535" split into MIG
    slices); nodes with no GPU: "cpu-x86_64"."""
    nvidia = profile.driver
    arch = profile.arch or "unknown-arch"
    if nvidia is None or not nvidia.gpus:
        return f"cpu-{arch}" if isinstance(profile.nvidia, NoNvidia) else f"unknown-{arch}"
    models = sorted({_slug(gpu.name or f"sm{(gpu.compute_capability or '').replace('.', '')}") for gpu in nvidia.gpus})
    if gpu_resource(profile) == MIG_SLICES:
        models = [f"{model}-mig" for model in models]  # the same GPUs offered whole are another class
    driver = f"-r{nvidia.driver.split('.')[0]}" if nvidia.driver else ""
    suffix = "" if arch == "x86_64" else f"-{arch}"
    return f"{'-'.join(models)}{driver}{suffix}"[:63].strip("-.")


def _slug(product: str) -> str:
    lower = product.lower().replace(" ", "-")
    for prefix in ("nvidia-", "tesla-"):
        lower = lower.removeprefix(prefix)
    return re.sub(r"[^a-z0-9.]+", "-", lower).strip("-.") or "gpu"


def _unique(classes: list[tuple[str, HostProfile]]) -> Iterator[tuple[str, HostProfile]]:
    """Each class once by name: a second class of one name gets -2, then -3."""
    seen: dict[str, int] = {}
    for name, profile in classes:
        base = name if _NAME.fullmatch(name) else "class"
        seen[base] = seen.get(base, 0) + 1
        yield (base if seen[base] == 1 else f"{base}-{seen[base]}"), profile
