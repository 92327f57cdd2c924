"""The structured edits of a fix, made where the rules compute the fix text: a requirement-style
fix (``numpy<2`` and the pins it moves) and a build that runs (``torch==2.7.1+cu118`` with its
companions, from its index). Each is kept on the context under the fix text it belongs to, and
``AuditContext.finding`` attaches it to the finding whose fix offers that text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import NormalizedName

from envdoctor.findings import Edit
from envdoctor.requirements.model import Form

if TYPE_CHECKING:
    from envdoctor.rules.context import AuditContext
    from envdoctor.rules.stack import Runnable

_UPPER = ("<", "<=")
_LOWER = (">", ">=")


def note(ctx: AuditContext, fix: str, edits: tuple[Edit, ...]) -> None:
    """Keep ``edits`` as what writing the fix ``fix`` means, where there is something to write."""
    if edits and fix:
        ctx.fix_edits.setdefault(fix, edits)


def offered(ctx: AuditContext, fix: str) -> tuple[Edit, ...]:
    """The edits of the fix ``fix`` offers first: of a fix text that names alternatives ("install
    X or upgrade the driver"), the one written first, as a user reads it."""
    found = [(fix.find(text), -len(text), text) for text in ctx.fix_edits if text in fix]
    return ctx.fix_edits[min(found)[2]] if found else ()


def pins_edits(ctx: AuditContext, pins: Sequence[str]) -> tuple[Edit, ...]:
    """The edits that write ``pins`` ("pandas==2.1.4", "numpy<2", "torch==2.7.1+cu118 from URL")
    into the lines of the set that ask for those packages; () when one of them cannot be written
    (no line of its own, a URL or path, a conda spec, a pin that is not a requirement)."""
    edits = []
    for pin in pins:
        text, _, index = pin.partition(" from ")
        try:
            wanted = Pep508(text.strip())
        except InvalidRequirement:
            return ()
        edit = _edit(ctx, wanted, index.strip() or None)
        if edit is None:
            return ()
        edits.append(edit)
    return tuple(edits)


def runnable_edits(ctx: AuditContext, offer: Runnable) -> None:
    """Keep the edits of a build fix under each text it is written as (Runnable.install)."""
    if offer.clashes or offer.dialect.conda or offer.conda_names:
        return  # a fix that still clashes is no fix to write; conda specs are edited by hand
    build = offer.build
    label = f"+{build.variant}" if build.index_url and build.variant else ""
    index = f" from {build.index_url}" if build.index_url else ""
    pins = [f"{build.package}=={offer.version.public}{label}{index}", *(f"{c}{index}" for c in offer.companions)]
    edits = pins_edits(ctx, [*pins, *offer.moved])
    for cuda_note in (False, True):
        note(ctx, offer.install(cuda_note=cuda_note), edits)


def _edit(ctx: AuditContext, wanted: Pep508, index: str | None) -> Edit | None:
    from envdoctor.requirements.conda_fix import dialect_of

    line = ctx.find(wanted.name)
    if wanted.marker is not None or wanted.url or line is None or line.name is None:
        return None
    if line.form is not Form.NAMED or line.url or line.constraint or dialect_of(line).conda:
        return None
    specifier = _merged(ctx, line.name, line.specifier, wanted.specifier)
    extras = f"[{','.join(sorted(line.extras))}]" if line.extras else ""
    requirement = f"{line.name}{extras}{specifier}"
    replaces = None if line.required_by is not None else line.text
    return Edit(line.location.path, line.location.line, replaces, requirement, index)


def _merged(ctx: AuditContext, name: NormalizedName, written: SpecifierSet, fix: SpecifierSet) -> str:
    """The fix's clauses with those of the line's that still hold beside it: numpy>=1.20 with the
    fix numpy<2 is numpy>=1.20,<2; a pin, or a bound the fix moves, gives way to the fix."""
    from envdoctor.rules.candidates import candidates

    fix_text = ",".join(str(clause) for clause in fix)
    if any(clause.operator in ("==", "===") for clause in fix):
        return fix_text
    kept = [clause for clause in written if not _same_side(clause, fix)]
    if not kept:
        return fix_text
    merged = ",".join(str(clause) for clause in (*kept, *fix))
    found = candidates(name, SpecifierSet(merged), ctx.facts)
    # Where the releases are known, the line's clauses stay only if some release meets them all.
    return merged if not found.tracked or found.versions else fix_text


def _same_side(clause: Specifier, fix: SpecifierSet) -> bool:
    operators = {other.operator for other in fix}
    if clause.operator in ("==", "===", "~="):
        return True
    return (clause.operator in _UPPER and bool(operators & set(_UPPER))) or (
        clause.operator in _LOWER and bool(operators & set(_LOWER))
    )
