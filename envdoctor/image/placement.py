"""Where an image runs in a Kubernetes cluster: a node affinity on NVIDIA GPU Feature Discovery's
labels that admits the nodes whose driver meets the image's CUDA floor and whose GPUs its builds
have kernels for, and the GPU request, as YAML to paste into a Pod or Deployment spec.

The selector is made from facts, not from the cluster: the driver floor of the image's CUDA
(``kb.facts.driver_need``) and the compute capabilities the audit finds the locked builds run on
(each known capability judged as a host of its own). It is then checked against the cluster's
node classes: it must admit exactly those the audit says run the image, or nothing is written.

Node selector semantics (Kubernetes API, NodeSelectorRequirement): terms are ORed, a term's
expressions ANDed; ``Gt``/``Lt`` compare a label's value as an integer; a node without the label
matches neither ``In`` nor ``Gt``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from envdoctor.errors import Refused
from envdoctor.findings import Finding
from envdoctor.host.fleet import COMPUTE_LABELS as _COMPUTE
from envdoctor.host.fleet import DRIVER_LABELS as _DRIVER
from envdoctor.host.fleet import K8S_ARCH as _K8S_ARCH
from envdoctor.host.fleet import WHOLE_GPUS, Requirement, gfd_labels, gpu_resource, selector_admits
from envdoctor.host.profile import Gpu, HostProfile, Nvidia

if TYPE_CHECKING:
    from envdoctor.audit.result import AuditReport

NO_GPU = "no NVIDIA GPU for pods there, and the image asks for one (nvidia.com/gpu)"
MIG_ONLY = (
    "it offers its GPUs only as MIG slices (nvidia.com/mig-<profile>, GPU Feature Discovery's mixed "
    "strategy), not as the whole GPUs (nvidia.com/gpu) the placement asks for"
)

# The audit's categories that say an image cannot run on a host (the same that refuse a Dockerfile).
REFUSING = frozenset({"driver-too-old", "gpu-arch-unsupported", "cuda-mismatch", "platform-unsupported"})


class Placement(NamedTuple):
    text: str  # the YAML
    admitted: tuple[str, ...]  # the node classes it admits
    left_out: tuple[tuple[str, str], ...]  # (class, the first reason it cannot run the image)


def place(
    lock_path: str, cuda: str | None, arch: str, python: str, classes: Sequence[tuple[str, HostProfile]]
) -> Placement:
    """The placement of an image of the lock at ``lock_path`` (whose builds need ``cuda``, None: no
    GPU) built for ``arch``, checked against the cluster's node ``classes``."""
    verdicts = _verdicts(lock_path, classes, gpu=cuda is not None)
    running = tuple(name for name, reason in verdicts if reason is None)
    if not running:
        raise Refused([f"no node class runs the image: {name}: {reason}" for name, reason in verdicts])
    terms = _terms(lock_path, cuda, arch, python)
    # A class that offers no nvidia.com/gpu never takes the pod, whatever the affinity says.
    admitted = tuple(
        name
        for name, profile in classes
        if selector_admits(terms, gfd_labels(profile)) and (cuda is None or gpu_resource(profile) == WHOLE_GPUS)
    )
    if admitted != running:
        wrong = sorted(set(admitted) ^ set(running))
        raise Refused(
            [
                f"the node affinity made from the image's driver floor and GPUs would {verb} {name}, which "
                + ("does not run the image" if name in admitted else "runs it")
                for name in wrong
                for verb in ("admit" if name in admitted else "leave out",)
            ]
        )
    left_out = tuple((name, reason) for name, reason in verdicts if reason is not None)
    return Placement(_yaml(terms, cuda is not None, admitted, left_out), admitted, left_out)


def _verdicts(lock_path: str, classes: Sequence[tuple[str, HostProfile]], gpu: bool) -> list[tuple[str, str | None]]:
    """Each class, and the first reason the image cannot run there (None: it runs): for a GPU
    image, a class without GPUs for pods; then the audit's; then GPUs offered only as MIG slices."""
    report = audit_lock(lock_path, classes)
    verdicts: list[tuple[str, str | None]] = []
    for name, profile in classes:
        offered = gpu_resource(profile)
        if gpu and offered is None:
            verdicts.append((name, NO_GPU))
            continue
        reasons = [f"{f.code} {f.message}" for f in report.findings if refuses(f) and f.is_about(name)]
        if gpu and offered != WHOLE_GPUS:
            reasons.append(MIG_ONLY)
        verdicts.append((name, reasons[0] if reasons else None))
    return verdicts


def audit_lock(lock_path: str, hosts: Sequence[tuple[str, HostProfile]]) -> AuditReport:
    """The audit of a lockfile on ``hosts``: what says whether an image of it runs there."""
    from envdoctor.audit.run import AuditOptions, run_audit
    from envdoctor.requirements import SourceOptions, load_requirement_set

    requirements = load_requirement_set([lock_path], SourceOptions(kind="requirements"))
    return run_audit(requirements, list(hosts), AuditOptions())


def refuses(finding: Finding) -> bool:
    """Whether the finding says an image cannot run on its host (it refuses a Dockerfile)."""
    return finding.category in REFUSING and finding.severity.label == "error"


def _terms(lock_path: str, cuda: str | None, arch: str, python: str) -> list[list[Requirement]]:
    """The nodeSelectorTerms: the architecture, and for a GPU image the driver floor and the
    compute capabilities its builds run on."""
    on_arch: Requirement = {"key": "kubernetes.io/arch", "operator": "In", "values": [_K8S_ARCH[arch]]}
    if cuda is None:
        return [[on_arch]]
    from envdoctor.kb.facts import driver_need

    need = driver_need(cuda)
    if need is None:
        raise Refused([f"the knowledge base does not know the driver CUDA {cuda} needs: no placement is written"])
    by_major: dict[str, list[str]] = {}
    for capability in _capabilities(lock_path, cuda, need.minimum, arch, python):
        major, minor = capability.split(".")
        by_major.setdefault(major, []).append(minor)
    if not by_major:
        raise Refused(["the image's builds run on no GPU the knowledge base knows: no placement is written"])
    terms = []
    for driver in _at_least(need.minimum):
        for major, minors in by_major.items():
            gpu: list[Requirement] = [
                {"key": _COMPUTE[0], "operator": "In", "values": [major]},
                {"key": _COMPUTE[1], "operator": "In", "values": minors},
            ]
            terms.append([on_arch, *driver, *gpu])
    return terms


def _at_least(floor: str) -> list[list[Requirement]]:
    """Driver >= floor as ORed terms over the three driver labels: 525.60.13 is major > 525, or
    525 and minor > 60, or 525.60 and revision > 12."""
    parts = floor.split(".")
    terms = []
    for index, part in enumerate(parts):
        same = [{"key": _DRIVER[i], "operator": "In", "values": [parts[i]]} for i in range(index)]
        if index == len(parts) - 1:
            above = {"key": _DRIVER[index], "operator": "Gt", "values": [str(int(part) - 1)]}
        else:
            above = {"key": _DRIVER[index], "operator": "Gt", "values": [str(int(part))]}
        terms.append([*same, above])
    return terms


def _capabilities(lock_path: str, cuda: str, driver: str, arch: str, python: str) -> list[str]:
    """The compute capabilities the lock's builds run on: each known capability judged by the
    audit as a host with that GPU and the floor driver."""
    from envdoctor.kb.facts import known_capabilities

    hosts = [
        (
            f"sm{capability}",
            HostProfile(
                os="linux",
                arch=arch,
                python=python,
                nvidia=Nvidia(driver=driver, cuda=cuda, gpus=(Gpu(compute_capability=capability),)),
            ),
        )
        for capability in known_capabilities()
    ]
    report = audit_lock(lock_path, hosts)
    refusals = [f for f in report.findings if f.category == "gpu-arch-unsupported" and f.severity.label == "error"]
    return [name.removeprefix("sm") for name, _ in hosts if not any(f.is_about(name) for f in refusals)]


def _code(reason: str) -> str:
    """The finding's code a reason starts with, or a short name for envdoctor's own reasons (the
    comment holds nothing from the input)."""
    first = reason.split(" ", 1)[0]
    if first.startswith("ED") and first[2:].isdigit():
        return first
    return "MIG slices only" if reason == MIG_ONLY else "no GPU"


def _yaml(
    terms: list[list[Requirement]], gpu: bool, admitted: tuple[str, ...], left_out: tuple[tuple[str, str], ...]
) -> str:
    import yaml

    header = [
        "# Where this image runs: paste affinity into the Pod spec (spec.template.spec for a Deployment),",
        "# resources into its container. Written by envdoctor dockerfile --k8s from GPU Feature Discovery labels.",
        f"# Admits the node classes: {', '.join(admitted)}",
    ]
    header += [f"# Leaves out {name}: {_code(reason)}" for name, reason in left_out]
    document: dict[str, Any] = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": term} for term in terms]
                }
            }
        }
    }
    if gpu:
        document["resources"] = {"limits": {"nvidia.com/gpu": "1"}}  # a Quantity is a string

    class _Plain(yaml.SafeDumper):
        """Every expression written out where it stands: no anchors and aliases for repeats."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    body = yaml.dump(document, Dumper=_Plain, sort_keys=False, default_flow_style=None, width=1000)
    return "\n".join(header) + "\n" + body
