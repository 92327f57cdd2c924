"""Built images as ``docker image inspect`` (or ``podman image inspect``) prints them: a JSON list,
one object per image, with its names (``RepoTags``, ``RepoDigests``) and configuration
(``Config.Env``, ``Config.Labels``).

What the audit needs of an image is what the NVIDIA container runtime reads: ``NVIDIA_REQUIRE_CUDA``
(set by nvidia/cuda images and inherited by every image built on them, and by envdoctor's), and
the CUDA it carries (``CUDA_VERSION``, or envdoctor's ``io.envdoctor.cuda`` label). A Kubernetes
workload whose image is one of these is judged by them; an image named alone is judged on the host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from envdoctor.errors import InputError
from envdoctor.requirements.dockerfile import base_image
from envdoctor.requirements.model import BaseImage, Location
from envdoctor.structured import parse_json

# The labels envdoctor dockerfile writes (image/writer.py): the CUDA of the image's builds, read
# here, and the digest of the lockfile it installs.
CUDA_LABEL = "io.envdoctor.cuda"
LOCK_LABEL = "io.envdoctor.lock.digest"
MAX_IMAGES = 1_000
_REFERENCE = re.compile(r"[a-z0-9][a-z0-9._/:-]{0,254}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CUDA = re.compile(r"\d{1,3}\.\d{1,3}(?:\.\d{1,4})?")
# NVIDIA_REQUIRE_CUDA: "cuda>=12.4 brand=tesla,driver>=470,driver<471 ...", space-separated
# alternatives of comma-separated conditions; those the audit judges (facts.container_admits).
_CONDITION = re.compile(
    r"cuda>=\d{1,3}(?:\.\d{1,4}){0,2}|driver(?:>=|<=|>|<)\d{1,4}(?:\.\d{1,4}){0,2}|brand=[a-z]{1,32}"
)
MAX_ALTERNATIVES = 200


class InspectedImage(NamedTuple):
    image: BaseImage  # its first name, as a FROM line would give it
    names: tuple[str, ...]  # every name it goes by: repository:tag and repository@sha256:...
    require_cuda: str | None
    cuda: str | None


def looks_like_inspect(text: str) -> bool:
    head = text.lstrip()[:4096]
    return head.startswith("[") and '"RepoTags"' in text and '"Config"' in text


def parse_inspect(text: str, path: str) -> list[InspectedImage]:
    """The images of ``docker image inspect`` output; InputError naming ``path`` when it is not."""
    data = parse_json(text, path)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InputError(path, "not docker image inspect output (a JSON list of images)")
    if len(data) > MAX_IMAGES:
        raise InputError(path, f"more than {MAX_IMAGES:,} images: not read")
    return [_image(item, index, path) for index, item in enumerate(data)]


def _image(item: Mapping[str, Any], index: int, path: str) -> InspectedImage:
    where = f"[{index}]"
    names = [*_strings(item.get("RepoTags"), f"{where}.RepoTags", path)]
    names += _strings(item.get("RepoDigests"), f"{where}.RepoDigests", path)
    for name in names:
        reference, _, digest = name.partition("@")
        if not _REFERENCE.fullmatch(reference) or (digest and not _DIGEST.fullmatch(digest)):
            raise InputError(path, f"{where}: an image name that is not an image reference")
        base_image(name, None, Location(path))  # its tag checked as a FROM line's is
    config = item.get("Config")
    config = config if isinstance(config, dict) else {}
    environment = dict(
        entry.split("=", 1) for entry in _strings(config.get("Env"), f"{where}.Config.Env", path) if "=" in entry
    )
    labels = config.get("Labels")
    labels = labels if isinstance(labels, dict) else {}
    require = environment.get("NVIDIA_REQUIRE_CUDA")
    cuda = labels.get(CUDA_LABEL) or environment.get("CUDA_VERSION")
    identity = item.get("Id")
    shown = names[0] if names else (identity if isinstance(identity, str) and _DIGEST.fullmatch(identity) else where)
    return InspectedImage(
        image=base_image(shown, None, Location(path))._replace(final=True),
        names=tuple(names),
        require_cuda=require if isinstance(require, str) and _judged_requirement(require) else None,
        cuda=cuda if isinstance(cuda, str) and _CUDA.fullmatch(cuda) else None,
    )


def _judged_requirement(text: str) -> bool:
    """Whether every alternative of an NVIDIA_REQUIRE_CUDA is made of conditions the audit reads,
    each with a CUDA or a driver bound: one it cannot read (cuda<13, arch=..., a value that is no
    version) leaves the image not judged rather than judged wrong."""
    alternatives = text.split(" ")
    if not text or len(alternatives) > MAX_ALTERNATIVES:
        return False
    for alternative in alternatives:
        conditions = alternative.split(",")
        if not all(_CONDITION.fullmatch(condition) for condition in conditions):
            return False
        if not any(condition.startswith(("cuda", "driver")) for condition in conditions):
            return False
    return True


def _strings(value: Any, where: str, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(path, f"{where}: expected a list of strings")
    return value


def matching(images: Sequence[InspectedImage], image: BaseImage) -> InspectedImage | None:
    """The inspected image a reference names: by digest when it has one, else by repository and
    tag (``latest`` when none), Docker Hub's implicit ``docker.io/library/`` set aside."""
    from envdoctor.kb.facts import hub_name

    repository = hub_name(image.repository)
    for inspected in images:
        for name in inspected.names:
            named = base_image(name, None, inspected.image.location)
            if hub_name(named.repository) != repository:
                continue
            if image.digest is not None:
                if named.digest == image.digest:
                    return inspected
            elif named.digest is None and named.tag == (image.tag or "latest"):
                return inspected
    return None
