"""ED202 companion-mismatch: packages released in lockstep are out of step.

Judged on versions known exactly (pins, the resolver's picks): a range of a companion resolves to
the release that matches, since each companion's metadata pins its torch or jaxlib."""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import Requirement as Pep508
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.findings import Finding
from envdoctor.kb import facts
from envdoctor.rules.context import AuditContext

CODE = "ED202"


def check(ctx: AuditContext) -> Iterator[Finding]:
    yield from _torch(ctx)
    yield from _jax(ctx)
    yield from _built_against_torch(ctx)
    yield from _tensorboard(ctx)


def _torch(ctx: AuditContext) -> Iterator[Finding]:
    torch = ctx.exact_version("torch")
    release = facts.torch_release(torch) if torch else None
    if torch is None or release is None:
        return
    for companion in facts.TORCH_COMPANIONS:
        version = ctx.exact_version(companion)
        requirement = ctx.find(companion)
        expected = release.get(companion)
        if version is None or requirement is None or expected is None:
            continue
        if Version(version.public) == Version(expected) and _same_build(torch, version):
            continue
        label = f"+{torch.local}" if torch.local else ""
        yield ctx.finding(
            CODE,
            f"{companion} {version} does not go with torch {torch}: torch {torch.public} was released with "
            f"{companion} {expected}",
            requirement=requirement,
            packages=(requirement.describe(), f"torch=={torch}"),
            fix=f"{companion}=={expected}{label}",
            references=(release["source"],),
        )


def _same_build(torch: Version, companion: Version) -> bool:
    """A local label (+cu121) must match across torch and its companions when both carry one."""
    return not (torch.local and companion.local and torch.local != companion.local)


def _jax(ctx: AuditContext) -> Iterator[Finding]:
    jax = ctx.exact_version("jax")
    release = facts.jax_release(jax) if jax else None
    if jax is None or release is None:
        return
    wanted = {"jaxlib": release["jaxlib"], **release.get("cuda_plugin", {})}
    for name, pin in wanted.items():
        specifier = SpecifierSet(pin) if any(op in pin for op in "<>=!~") else SpecifierSet(f"=={pin}")
        yield from _outside(ctx, name, specifier, "jax", jax, source=release["source"])


def _outside(
    ctx: AuditContext, name: str, specifier: SpecifierSet, anchor: str, anchor_version: Version, *, source: str
) -> Iterator[Finding]:
    """A finding when the set asks for `name` outside what release `anchor_version` of `anchor` needs."""
    version = ctx.exact_version(name)
    requirement = ctx.find(name)
    if version is None or requirement is None or specifier.contains(version, prereleases=True):
        return
    yield ctx.finding(
        CODE,
        f"{name} {version} does not go with {anchor} {anchor_version}, which needs {name}{specifier}",
        requirement=requirement,
        packages=(requirement.describe(), f"{anchor}=={anchor_version}"),
        fix=f"{name}{specifier}",
        references=(source,),
    )


def _built_against_torch(ctx: AuditContext) -> Iterator[Finding]:
    torch = ctx.exact_version("torch")
    if torch is None:
        return
    for requirement in ctx.wanted():
        version = ctx.exact_version(requirement.name or "")
        if version is None:
            continue
        for row in facts.package_builds(requirement.name or ""):
            if "built_against" not in row or not SpecifierSet(row["versions"]).contains(version, prereleases=True):
                continue
            built = Pep508(row["built_against"])
            if built.name != "torch" or built.specifier.contains(Version(torch.public), prereleases=True):
                continue
            yield ctx.finding(
                CODE,
                f"{requirement.name} {version} is built against {built}, but torch {torch} is asked for",
                requirement=requirement,
                packages=(requirement.describe(), f"torch=={torch}"),
                fix=f"pin torch to match ({built}) or pick the {requirement.name} release built for "
                f"torch {torch.public}",
                references=(row["source"],),
            )


def _tensorboard(ctx: AuditContext) -> Iterator[Finding]:
    tensorflow = ctx.exact_version("tensorflow")
    wheel = facts.tensorflow_wheel(tensorflow) if tensorflow else None
    if tensorflow is None or wheel is None or "tensorboard" not in wheel:
        return
    specifier = SpecifierSet(wheel["tensorboard"])
    yield from _outside(ctx, "tensorboard", specifier, "tensorflow", tensorflow, source=wheel["source"])
