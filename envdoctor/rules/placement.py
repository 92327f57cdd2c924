"""Kubernetes workloads judged on the node classes they may land on, and ED701.

A workload that asks for GPUs (``nvidia.com/gpu``, or MIG slices, ``nvidia.com/mig-1g.5gb``) is
scheduled only on nodes that offer them; its required node affinity and nodeSelector narrow that
to some node classes. On each class it may land on, each of its images is judged as a Dockerfile's
base image is on a host (the driver rule: NVIDIA_REQUIRE_CUDA, the release notes' driver, a newer
CUDA major), with that rule's code: by what ``docker image inspect`` of it says where that is
given, else by what the knowledge base knows of its name; an image known to neither is said to be
not judged (ED900). Where an image cannot run and the workload has no node affinity at all, ED701
says so: the fix is a placement, not only a driver.
"""

from __future__ import annotations

from collections.abc import Iterator

from envdoctor.findings import Finding, Severity
from envdoctor.host.fleet import class_admitted, offers_any
from envdoctor.kb import facts
from envdoctor.rules.context import AuditContext
from envdoctor.rules.driver import image_on_driver, inspected_facts


def check(ctx: AuditContext) -> Iterator[Finding]:
    nvidia = ctx.host.driver
    if not ctx.requirements.workloads or nvidia is None or not nvidia.driver or not nvidia.gpus:
        return  # no GPU here: a workload that asks for one is not scheduled on it
    from envdoctor.requirements.image_inspect import matching

    for workload in ctx.requirements.workloads:
        if not offers_any(ctx.host, workload.gpu_resources):
            continue  # not scheduled here: no GPUs of the kind it asks for (or it asks for none)
        if workload.terms is not None and not class_admitted(workload.terms, ctx.host):
            continue
        refused = []
        for image in workload.images:
            inspected = matching(ctx.requirements.inspected, image)
            known = inspected_facts(inspected) if inspected else facts.image_facts(image.repository, image.tag)
            if known is None:
                yield ctx.finding(
                    "ED900",
                    f"{workload.described}: its image {image.reference} is not one the knowledge base knows: "
                    "what CUDA it needs is not known, so it is not judged here",
                    location=image.location,
                    fix=f"name the output of `docker image inspect {image.reference}` with the manifest "
                    "(envdoctor audit deployment.yaml inspect.json) to judge it by what it carries",
                    severity=Severity.INFO,
                )
                continue
            for finding in image_on_driver(ctx, image, known, nvidia.driver, called="its image"):
                refused.append(finding)
                yield finding._replace(message=f"{workload.described}: {finding.message}")
        if refused and workload.terms is None and ctx.host.nodes:
            yield ctx.finding(
                "ED701",
                # The same words on every class: one finding that names them all.
                f"{workload.described} asks for {workload.gpus} GPU(s) with no node affinity: the scheduler may "
                "place it on any node that offers them, including those of the node classes named, which cannot "
                "run its image",
                location=workload.location,
                fix="add a required node affinity that admits only the node classes that run the image "
                "(envdoctor dockerfile --k8s writes one, placement.yaml)",
                severity=Severity.WARNING,
            )
