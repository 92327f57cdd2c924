"""ED206-ED209 and ED601-ED603: model files judged without loading them. Whether the set can load
each (the release that wrote it, the modules it needs, torch.load's default), and whether loading
it runs code. What each global is, and what a release has, is the knowledge base's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from envdoctor.findings import Finding
from envdoctor.kb import Row, facts
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
        if artifact.format == "skops":
            yield from _skops_types(ctx, artifact)
        if not artifact.pickled:
            continue
        rows, code, unknown = _classified(artifact.globals)
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


def _classified(names: tuple[str, ...]) -> tuple[dict[str, Row | None], list[str], list[str]]:
    """Each name's knowledge-base row, those that run code, and those the base does not know."""
    rows = {name: facts.pickle_global(name) for name in names}
    code = [name for name, row in rows.items() if row is not None and row["kind"] == "code"]
    unknown = [name for name, row in rows.items() if row is None]
    return rows, code, unknown


def _skops_types(ctx: AuditContext, artifact: Artifact) -> Iterator[Finding]:
    """A skops file builds only the types its schema names, and skops.io.load refuses those it does
    not trust unless the caller lists them: one that runs code is an error, one the knowledge base
    does not know is for the user to review (skops.io.get_untrusted_types lists them too)."""
    rows, code, unknown = _classified(artifact.globals)
    where, what = Location(artifact.path, None), _described(artifact)
    if code:
        yield ctx.finding(
            "ED601",
            f"{what} builds {_listed(code)}: skops.io.load refuses it unless told to trust them, "
            "and trusting them runs them",
            location=where,
            packages=tuple(code),
            fix="do not pass these to trusted=; if the model is yours, save it again without them",
            references=tuple(dict.fromkeys(str(row["source"]) for name in code if (row := rows[name]))),
        )
    elif unknown:
        yield ctx.finding(
            "ED602",
            f"{what} builds {_listed(unknown)}, which the knowledge base does not know as data or as a known "
            "library's; skops.io.load refuses the types it does not trust unless they are passed as trusted=",
            location=where,
            packages=tuple(unknown),
            fix="review each (skops.io.get_untrusted_types lists them) and pass only those you trust as trusted=",
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
        yield from _format_versions(ctx, artifact)
        if artifact.format == "torch":
            yield from _weights_only(ctx, artifact)
        if artifact.format == "onnx":
            yield from _onnx_opsets(ctx, artifact)


def _needed_packages(ctx: AuditContext, artifact: Artifact) -> Iterator[Finding]:
    """Each known package loading the artifact imports, in the release the set installs: it must
    have every module and class named (NumPy 2's numpy._core, scikit-learn's pre-0.22 paths). One
    finding per package names all it lacks: unpickling stops at the first, so fixing one at a time
    would take as many tries."""
    where = Location(artifact.path, None)
    needs: dict[str, list[tuple[str, Row]]] = {}
    for name in artifact.globals:
        row = facts.pickle_global(name)
        if row is not None and "package" in row and "requires" in row:
            needs.setdefault(str(row["package"]), []).append((name, row))
    for package, named in needs.items():
        if ctx.find(package) is None or (installed := ctx.version_of(package)) is None:
            continue
        lacking = [
            (name, row)
            for name, row in named
            if not SpecifierSet(str(row["requires"])).contains(installed, prereleases=True)
        ]
        if not lacking:
            continue
        ranges = list(dict.fromkeys(str(row["requires"]) for _, row in lacking))
        wanted = f"{package}{ranges[0]}" if len(ranges) == 1 else f"a {package} release that has them all"
        shims = list(dict.fromkeys(str(row["shim"]) for _, row in lacking if "shim" in row))
        yield ctx.finding(
            "ED207",
            f"loading {_described(artifact)} imports {_listed([name for name, _ in lacking])}, which "
            f"{ctx.subject(package)} does not have (it needs {package}{' and '.join(ranges)})"
            + "".join(f"; {shim}" for shim in shims),
            location=where,
            packages=(package,),
            fix=f"install {wanted}, or save the model again under {package} {installed}",
            references=tuple(dict.fromkeys(str(row["source"]) for _, row in lacking)),
        )


def _writer_releases(ctx: AuditContext, artifact: Artifact) -> Iterator[Finding]:
    """The release each library recorded in the artifact, against the one the set installs: the
    same release, or for a library that reads older releases' files, that release or newer."""
    for key, written in artifact.versions:
        row = facts.artifact_writer(artifact.format, key)
        if row is None or ctx.find(str(row["package"])) is None:
            continue
        package = str(row["package"])
        installed = ctx.version_of(package)
        try:
            writer = Version(written)
        except InvalidVersion:
            continue
        reads = row.get("reads", "same")
        if installed is None or installed == writer:
            continue
        if (reads == "same-or-newer" and installed > writer) or (
            reads == "same-major" and installed.major == writer.major
        ):
            continue
        if reads == "same-major":
            message = (
                f"{artifact.path} was written by {package} {written}; {ctx.subject(package)}, which the set installs, "
                f"is another major release: it does not load the file"
            )
            fix = f"{package}>={writer.major},<{writer.major + 1}, or save the model again under {package} {installed}"
        elif reads == "same-or-newer":
            message = (
                f"{artifact.path} was written by {package} {written}, newer than {ctx.subject(package)}, which the set "
                f"installs: {package} reads models that older releases saved, not newer ones"
            )
            fix = f"{package}>={written}, or save the model again under {package} {installed}"
        else:
            message = (
                f"{artifact.path} was written by {package} {written}; the set installs {ctx.subject(package)}, "
                "under which its objects may not load, or not behave the same"
            )
            fix = f"{package}=={written}, or save the model again under {package} {installed}"
        yield ctx.finding(
            "ED206",
            message,
            location=Location(artifact.path, None),
            packages=(package,),
            fix=fix,
            references=(str(row["source"]),),
        )


def _format_versions(ctx: AuditContext, artifact: Artifact) -> Iterator[Finding]:
    """A file format version (LightGBM's version=v4) that the set's release of its reader predates."""
    for key, value in artifact.versions:
        row = facts.format_version_needs(artifact.format, value) if key == "format" else None
        if row is None or ctx.find(str(row["package"])) is None:
            continue
        package, needs = str(row["package"]), SpecifierSet(str(row["requires"]))
        installed = ctx.version_of(package)
        if installed is None or needs.contains(installed, prereleases=True):
            continue
        yield ctx.finding(
            "ED209",
            f"{artifact.path} is in the {artifact.format} model format {value!r}, which {ctx.subject(package)} "
            f"cannot read (it needs {package}{needs})",
            location=Location(artifact.path, None),
            packages=(package,),
            fix=f"install {package}{needs}" + (f", or {row['resave']}" if "resave" in row else ""),
            references=(str(row["source"]),),
        )


def _onnx_opsets(ctx: AuditContext, artifact: Artifact) -> Iterator[Finding]:
    """An ONNX model whose operator set or IR version is newer than the set's runtime loads."""
    opset = max((version for domain, version in artifact.opsets if domain in ("", "ai.onnx")), default=None)
    ml_opset = max((version for domain, version in artifact.opsets if domain == "ai.onnx.ml"), default=None)
    ir_version = artifact.ir_version or 0
    for runtime in facts.onnx_runtimes():
        if ctx.find(runtime) is None or (installed := ctx.version_of(runtime)) is None:
            continue
        row = facts.onnx_support(runtime, installed)
        if row is None:
            continue
        uses, limits = [], []
        if opset is not None and opset > row["opset"]:
            uses.append(f"operator set {opset}")
            limits.append(f"operator set {row['opset']}")
        if ml_opset is not None and "ml_opset" in row and ml_opset > row["ml_opset"]:
            uses.append(f"ai.onnx.ml operator set {ml_opset}")
            limits.append(f"ai.onnx.ml operator set {row['ml_opset']}")
        if ir_version > row["ir_version"]:
            uses.append(f"IR version {ir_version}")
            limits.append(f"IR version {row['ir_version']}")
        if not uses:
            continue
        first = facts.first_onnx_release(runtime, opset or 0, ir_version, ml_opset or 0)
        upgrade = f"install {runtime}{first['versions'].split(',')[0]}, or " if first else ""
        yield ctx.finding(
            "ED209",
            f"{_described(artifact)} uses {' and '.join(uses)}; {ctx.subject(runtime)} loads up to "
            f"{' and '.join(limits)}, and refuses it",
            location=Location(artifact.path, None),
            packages=(runtime,),
            fix=f"{upgrade}export it again for {' and '.join(limits)} or lower",
            references=tuple(dict.fromkeys(str(r["source"]) for r in (row, first) if r)),
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


def _described(artifact: Artifact) -> str:
    """The file, its format, and who wrote it: "model.joblib (joblib, written by scikit-learn 1.3.2)"."""
    writers = [
        f"{row['package']} {version}"
        for key, version in artifact.versions
        if (row := facts.artifact_writer(artifact.format, key)) is not None
    ]
    if artifact.producer:
        writers.append(artifact.producer)
    by = f", written by {', '.join(writers)}" if writers else ""
    return f"{artifact.path} ({artifact.format}{by})"


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
