"""ED206-ED208 and ED601-ED603: model files judged without loading them. Whether the set can load
each (the release that wrote it, the modules it needs, torch.load's default), and whether loading
it runs code. What each global is, and what a release has, is the knowledge base's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.findings import Finding
from envdoctor.kb import facts
from envdoctor.requirements.model import Location
from envdoctor.rules.context import AuditContext

if TYPE_CHECKING:
    from envdoctor.artifacts.read import Artifact  # read only when an artifact is named

# How many names a message lists; the rest are counted.
_SHOWN = 4


def check_safety(ctx: AuditContext) -> Iterator[Finding]:
    """Whether loading each pickled artifact runs code (once for the set, whatever the host)."""
    for artifact in ctx.requirements.artifacts:
        where = Location(artifact.path, None)
        for note in artifact.notes:
            yield ctx.finding("ED900", f"{artifact.path}: {note}", location=where)
        if not artifact.pickled:
            continue
        rows = {name: facts.pickle_global(name) for name in artifact.globals}
        code = [name for name, row in rows.items() if row is not None and row["kind"] == "code"]
        unknown = [name for name, row in rows.items() if row is None]
        what = _described(artifact)
        if code:
            yield ctx.finding(
                "ED601",
                f"loading {what} runs {_listed(code)}: a model needs none of them to be rebuilt",
                location=where,
                packages=tuple(code),
                fix="do not load it; if the model is yours, save it again as safetensors, skops or ONNX",
                references=tuple(dict.fromkeys(str(row["source"]) for name in code if (row := rows[name]))),
            )
        elif unknown:
            yield ctx.finding(
                "ED602",
                f"loading {what} imports and calls {_listed(unknown)}, which the knowledge base does not know "
                "as data or as a known library's",
                location=where,
                packages=tuple(unknown),
                fix="check that each is code you trust; better, save the model as safetensors, skops or ONNX",
            )
        else:
            yield ctx.finding(
                "ED603",
                f"{what} is a pickle: loading it runs whatever it names (this one names only data and known "
                "libraries' classes)",
                location=where,
                fix="load it only from a source you trust; save models as safetensors, skops or ONNX where you can",
            )


def check(ctx: AuditContext) -> Iterator[Finding]:
    """Whether the set can load each artifact on this host."""
    if not any(not r.constraint for r in ctx.requirements.requirements):
        return  # an artifact alone: nothing installs it, so nothing to judge it against
    for artifact in ctx.requirements.artifacts:
        # A package the set does not name is not judged: another package may bring it, and which
        # packages bring which is known only for those the knowledge base tracks.
        yield from _needed_packages(ctx, artifact)
        yield from _writer_releases(ctx, artifact)
        if artifact.format == "torch":
            yield from _weights_only(ctx, artifact)


def _needed_packages(ctx: AuditContext, artifact: Artifact) -> Iterator[Finding]:
    """Each known package loading the artifact imports, in the release the set installs: it must
    have the module named (NumPy 2's numpy._core)."""
    where = Location(artifact.path, None)
    needs: dict[str, list[tuple[str, SpecifierSet | None, str]]] = {}
    for name in artifact.globals:
        row = facts.pickle_global(name)
        if row is None or "package" not in row:
            continue
        requires = SpecifierSet(row["requires"]) if "requires" in row else None
        needs.setdefault(str(row["package"]), []).append((name, requires, str(row["source"])))
    for package, named in needs.items():
        if ctx.find(package) is None:
            continue
        installed = ctx.version_of(package)
        for name, requires, source in named:
            if requires is None or installed is None or requires.contains(installed, prereleases=True):
                continue
            yield ctx.finding(
                "ED207",
                f"loading {_described(artifact)} imports {name}, which {ctx.subject(package)} does not have "
                f"(it needs {package}{requires})",
                location=where,
                packages=(package,),
                fix=f"install {package}{requires}, or save the model again under {package} {installed}",
                references=(source,),
            )
            break


def _writer_releases(ctx: AuditContext, artifact: Artifact) -> Iterator[Finding]:
    """The release each library recorded in the artifact, against the one the set installs."""
    keys = facts.artifact_version_keys()
    for key, written in artifact.versions:
        package = keys.get(key)
        if package is None or ctx.find(package) is None:
            continue
        installed = ctx.version_of(package)
        try:
            same = installed is None or Version(written) == installed
        except InvalidVersion:
            continue
        if same:
            continue
        yield ctx.finding(
            "ED206",
            f"{artifact.path} was written by {package} {written}; the set installs {ctx.subject(package)}, "
            "under which its objects may not load, or not behave the same",
            location=Location(artifact.path, None),
            packages=(package,),
            fix=f"{package}=={written}, or save the model again under {package} {installed}",
            references=tuple(str(row["source"]) for row in _version_key_rows(key)),
        )


def _weights_only(ctx: AuditContext, artifact: Artifact) -> Iterator[Finding]:
    """A torch.save file that holds more than tensors, for a torch whose torch.load refuses that by default."""
    if ctx.find("torch") is None:
        return
    torch = ctx.version_of("torch")
    allowed = facts.weights_only_globals(torch) if torch is not None else None
    if allowed is None:
        return
    outside = [name for name in artifact.globals if name not in allowed]
    if not outside:
        return
    yield ctx.finding(
        "ED208",
        f"torch.load({artifact.path}) fails with {ctx.subject('torch')}, which loads with weights_only=True by "
        f"default: the checkpoint also holds {_listed(outside)}",
        location=Location(artifact.path, None),
        packages=("torch",),
        fix="save the state_dict alone; for a file you trust, torch.serialization.add_safe_globals([...]) "
        "or torch.load(..., weights_only=False)",
        references=(facts.weights_only_source(),),
    )


def _version_key_rows(key: str) -> list[dict[str, object]]:
    from envdoctor.kb import load_topic

    return [row for row in load_topic("artifacts", "version_key") if row["key"] == key]


def _described(artifact: Artifact) -> str:
    """The file, its format, and who wrote it: "model.joblib (joblib, written by scikit-learn 1.3.2)"."""
    keys = facts.artifact_version_keys()
    writers = [f"{keys[key]} {version}" for key, version in artifact.versions if key in keys]
    by = f", written by {', '.join(writers)}" if writers else ""
    return f"{artifact.path} ({artifact.format}{by})"


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
