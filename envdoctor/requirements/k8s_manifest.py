"""Kubernetes workloads (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, and
Lists of them) read for what decides where their containers run: each container's image, the GPUs
the pod asks for (``nvidia.com/gpu``), and its required node affinity and nodeSelector.

YAML is read with ``yaml.compose_all`` so that each image keeps the line it was written on; only
plain mappings, sequences and scalars are accepted (no tags, no anchors beyond a bound).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from envdoctor.errors import InputError
from envdoctor.host.fleet import MIG_SLICES, WHOLE_GPUS
from envdoctor.requirements.dockerfile import base_image
from envdoctor.requirements.model import BaseImage, Location
from envdoctor.structured import mapping_at, read_yaml

# The pod spec of each workload kind, as a path of keys from the object.
_POD_SPEC = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_WORKLOAD = re.compile(r"^kind:\s*[\"']?(" + "|".join(_POD_SPEC) + r")[\"']?\s*$", re.MULTILINE)
MAX_DOCUMENTS = 1_000
MAX_NODES = 1_000_000  # YAML nodes visited in all
# An image reference as Docker takes it: [registry/]name[:tag][@digest], one token.
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]{0,254}(?:@sha256:[0-9a-f]{64})?")
_LABEL_VALUE = re.compile(r"[A-Za-z0-9._/-]{0,253}")

Requirement = dict[str, Any]


class Workload(NamedTuple):
    kind: str
    name: str
    location: Location
    images: tuple[BaseImage, ...]
    gpus: int  # GPUs asked for (nvidia.com/gpu and MIG slices, nvidia.com/mig-*), all containers together
    gpu_resources: tuple[str, ...]  # the names of those resources, sorted
    # The required node affinity's nodeSelectorTerms, with the nodeSelector ANDed into each; None: neither.
    terms: tuple[tuple[Requirement, ...], ...] | None

    @property
    def described(self) -> str:
        return f"{self.kind} {self.name}"


def looks_like_manifest(text: str) -> bool:
    return "apiVersion:" in text and _WORKLOAD.search(text) is not None


def parse_manifest(text: str, path: str) -> list[Workload]:
    """The workloads of a manifest; InputError naming ``path`` (and the line) when it is not YAML
    or a workload is malformed."""
    import yaml

    documents = read_yaml(lambda: list(yaml.compose_all(text, Loader=yaml.SafeLoader)), path, "a manifest")
    if len(documents) > MAX_DOCUMENTS:
        raise InputError(path, f"more than {MAX_DOCUMENTS:,} documents: not read")
    budget = [MAX_NODES]
    # Made plain data recursively, as composing it was: as deep, so bounded the same way.
    objects = read_yaml(
        lambda: [item for document in documents if document is not None for item in _objects(document, path, budget)],
        path,
        "a manifest",
    )
    workloads = [_workload(obj, line, path) for obj, line in objects]
    return [workload for workload in workloads if workload is not None]


def _objects(node: Any, path: str, budget: list[int]) -> Iterator[tuple[dict[str, Any], int]]:
    """Each object of a document (a List's items one by one), as plain data with its first line."""
    value = _plain(node, path, budget)
    if isinstance(value, dict) and value.get("kind") == "List" and isinstance(value.get("items"), list):
        items = node.value[[key.value for key, _ in node.value].index("items")][1].value
        for item, item_node in zip(value["items"], items, strict=True):
            if isinstance(item, dict):
                yield item, item_node.start_mark.line + 1
    elif isinstance(value, dict):
        yield value, node.start_mark.line + 1


def _plain(node: Any, path: str, budget: list[int]) -> Any:
    """A YAML node as plain data; an image's line is kept as ``__line__`` beside it."""
    import yaml

    budget[0] -= 1
    if budget[0] < 0:
        raise InputError(path, f"more than {MAX_NODES:,} YAML values: not read")
    if isinstance(node, yaml.ScalarNode):
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, path, budget) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key, item in node.value:
            if isinstance(key, yaml.ScalarNode):
                out[key.value] = _plain(item, path, budget)
                if key.value == "image":
                    out["__line__"] = key.start_mark.line + 1
        return out
    raise InputError(path, "a YAML node of an unknown kind", node.start_mark.line + 1)


def _workload(obj: Mapping[str, Any], line: int, path: str) -> Workload | None:
    kind = obj.get("kind")
    if kind not in _POD_SPEC:
        return None
    metadata = mapping_at(obj, "metadata")
    name = str(metadata["name"]) if isinstance(metadata.get("name"), str) else "(unnamed)"
    spec: Any = obj
    for key in _POD_SPEC[kind]:
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        raise InputError(path, f"{kind} {name}: no pod spec at {'.'.join(_POD_SPEC[kind])}", line)
    images: list[BaseImage] = []
    asked: dict[str, int] = {}
    for field in ("initContainers", "containers"):
        for container in spec.get(field) or []:
            if not isinstance(container, dict):
                continue
            image = container.get("image")
            where = Location(path, container.get("__line__", line))
            if not isinstance(image, str) or not _IMAGE.fullmatch(image):
                raise InputError(path, f"{kind} {name}: an image that is not an image reference", where.line)
            images.append(base_image(image, None, where)._replace(final=True))
            for resource, count in _gpus(container.get("resources")).items():
                asked[resource] = asked.get(resource, 0) + count
    return Workload(
        str(kind),
        name,
        Location(path, line),
        tuple(images),
        sum(asked.values()),
        tuple(sorted(asked)),
        _terms(spec, path, line),
    )


def _gpus(resources: Any) -> dict[str, int]:
    """The GPU resources a container asks for (limits, or requests where no limit is set), and how many."""
    if not isinstance(resources, dict):
        return {}
    asked: dict[str, int] = {}
    for section in (resources.get("requests"), resources.get("limits")):
        if not isinstance(section, dict):
            continue
        for resource, value in section.items():
            gpus = resource == WHOLE_GPUS or resource.startswith(MIG_SLICES)
            if gpus and isinstance(value, str) and value.isdigit():
                asked[resource] = int(value)
    return {resource: count for resource, count in asked.items() if count > 0}


def _terms(spec: Mapping[str, Any], path: str, line: int) -> tuple[tuple[Requirement, ...], ...] | None:
    """The required nodeSelectorTerms with the nodeSelector ANDed into each; None: no constraint."""
    selector = mapping_at(spec, "nodeSelector")
    pinned = [
        {"key": str(key), "operator": "In", "values": [str(value)]}
        for key, value in selector.items()
        if isinstance(value, str) and _LABEL_VALUE.fullmatch(value)
    ]
    required = mapping_at(mapping_at(spec, "affinity"), "nodeAffinity").get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    raw_terms = required.get("nodeSelectorTerms") if isinstance(required, dict) else None
    if not isinstance(raw_terms, list) or not raw_terms:
        return ((*pinned,),) if pinned else None
    terms = []
    for term in raw_terms:
        expressions = term.get("matchExpressions") if isinstance(term, dict) else None
        if not isinstance(expressions, list):
            continue
        checked = []
        for expression in expressions:
            if not (isinstance(expression, dict) and isinstance(expression.get("key"), str)):
                raise InputError(path, "a nodeSelectorTerm's expression with no key", line)
            values = expression.get("values") or []
            values = [str(v) for v in values] if isinstance(values, list) else []
            checked.append({"key": expression["key"], "operator": str(expression.get("operator")), "values": values})
        terms.append((*checked, *pinned))
    return tuple(terms)
