"""Kubernetes workloads judged on the node classes they may land on, and ED701.

A workload that asks for GPUs (``nvidia.com/gpu``) is scheduled only on nodes that offer them;
its required node affinity and nodeSelector narrow that to some node classes. On each class it
may land on, each of its images is judged as a Dockerfile's base image is on a host (the driver
rule: NVIDIA_REQUIRE_CUDA, the release notes' driver, a newer CUDA major), with that rule's code.
Where an image cannot run and the workload has no node affinity at all, ED701 says so: the fix is
a placement, not only a driver.
"""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.findings import Finding, Severity
from envdoctor.host.fleet import class_admitted
from envdoctor.kb import facts
from envdoctor.rules.context import AuditContext
from envdoctor.rules.driver import image_on_driver


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    if not ctx.requirements.workloads or nvidia is None or not nvidia.driver or not nvidia.gpus:
        return  # no GPU here: a workload that asks for one is not scheduled on it
    for workload in ctx.requirements.workloads:
        if workload.gpus == 0 or (workload.terms is not None and not class_admitted(workload.terms, ctx.host)):
            continue
        refused = []
        for image in workload.images:
            known = facts.image_facts(image.repository, image.tag)
            if known is None:
                continue
            for finding in image_on_driver(ctx, image, known, nvidia.driver, called="its image"):
                refused.append(finding)
                yield finding._replace(message=f"{workload.described}: {finding.message}")
        if refused and workload.terms is None and ctx.host.nodes:
            yield ctx.finding(
                "ED701",
                f"{workload.described} asks for {workload.gpus} GPU(s) with no node affinity: the scheduler may place "
                f"it on any GPU node, and this node class ({len(ctx.host.nodes)} node(s)) cannot run its image",
                location=workload.location,
                fix="add a required node affinity that admits only the node classes that run the image "
                "(envdoctor dockerfile --k8s writes one, placement.yaml)",
                severity=Severity.WARNING,
            )
