"""A Kubernetes node labelled by NVIDIA GPU Feature Discovery.

Reads ``kubectl get node NAME -o json`` (a Node or a List of them) and any other
text that carries the labels as ``key: value`` or ``key=value`` (YAML, ``kubectl describe``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from envdoctor.structured import parse_json

_LABEL = re.compile(
    # key, its closing quote if JSON's, ":" or "=", then the value (quoted or not; "" for none)
    r"(?P<key>(?:nvidia\.com|(?:beta\.)?kubernetes\.io)/[A-Za-z0-9_.\-]+)[\"']?"
    r"[ \t]*[:=][ \t]*[\"']?(?P<value>[^\"'\s,}]*)"
)


def looks_like_k8s_node(text: str) -> bool:
    return "nvidia.com/gpu." in text or "nvidia.com/cuda." in text


def node_labels(text: str, path: str) -> dict[str, str]:
    """The node's labels; with several nodes in a List, those of the first GPU node.

    Text that starts as JSON is read as JSON (InputError naming ``path`` if it is not, or is
    nested too deep); other text (YAML, ``kubectl describe``) for its ``key: value`` labels."""
    if text.lstrip().startswith(("{", "[")):
        data = parse_json(text, path)
        for node in _nodes(data):
            metadata = node.get("metadata")
            labels = metadata.get("labels") if isinstance(metadata, dict) else None
            if isinstance(labels, dict) and any(str(key).startswith("nvidia.com/") for key in labels):
                return {key: value for key, value in labels.items() if isinstance(value, str)}
    return {match.group("key"): match.group("value") for match in _LABEL.finditer(text)}


def _nodes(data: object) -> list[dict[str, Any]]:
    if not isinstance(data, dict):
        return []
    items = data.get("items")
    if isinstance(items, list):
        return [item for item in items if isinstance(item, dict)]
    return [data]


def driver_version(labels: Mapping[str, str]) -> str | None:
    full = labels.get("nvidia.com/cuda.driver-version.full")
    if full:
        return full
    parts = [labels.get(f"nvidia.com/cuda.driver.{part}") for part in ("major", "minor", "rev")]
    return ".".join(p for p in parts if p) if parts[0] and parts[1] else None


def cuda_version(labels: Mapping[str, str]) -> str | None:
    full = labels.get("nvidia.com/cuda.runtime-version.full")
    if full:
        return full
    major, minor = labels.get("nvidia.com/cuda.runtime.major"), labels.get("nvidia.com/cuda.runtime.minor")
    return f"{major}.{minor}" if major and minor else None


def compute_capability(labels: Mapping[str, str]) -> str | None:
    major, minor = labels.get("nvidia.com/gpu.compute.major"), labels.get("nvidia.com/gpu.compute.minor")
    return f"{major}.{minor}" if major and minor else None


def gpu_memory_mib(labels: Mapping[str, str]) -> int | None:
    """GFD's ``gpu.memory`` in MiB. Some operator releases wrote bytes there (a published OpenShift
    T4 node says 16106127360): no GPU has a million MiB, so a value that large is bytes."""
    value = labels.get("nvidia.com/gpu.memory", "")
    if not value.isascii() or not value.isdigit() or len(value) > 15:
        return None
    number = int(value)
    return number // 2**20 if number >= 2**20 else number


def mig_enabled(labels: Mapping[str, str]) -> bool | None:
    product = labels.get("nvidia.com/gpu.product", "")
    if "-MIG-" in product or any(key.startswith("nvidia.com/mig-") for key in labels):
        return True
    if "nvidia.com/mig.capable" in labels:
        return False
    return None
