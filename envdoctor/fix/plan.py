"""Which of an audit's fixes hold, and what each file becomes: the fixes are applied one at a time
to copies in memory, the set is read again from them and audited on every host, and a fix is kept
only if the findings it was for are gone and no new error appears on any host."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from envdoctor import fsio
from envdoctor.audit.result import AuditReport
from envdoctor.findings import Edit, Finding, Severity
from envdoctor.fix.write import Edited, NotWritable, edit_pyproject, edit_requirements
from envdoctor.host.profile import HostProfile
from envdoctor.requirements.model import Input, RequirementSet
from envdoctor.safety import printable

# What a file of each kind that --fix does not edit needs instead.
_BY_HAND = {
    "dockerfile": "a Dockerfile is not edited by --fix: edit its install line by hand",
    "uvlock": "a lockfile is not edited: fix pyproject.toml, then re-lock with uv lock",
    "poetrylock": "a lockfile is not edited: fix pyproject.toml, then re-lock with poetry lock",
    "pylock": "a lockfile is not edited: fix its input, then re-lock (envdoctor lock, or the tool that wrote it)",
    "conda": "a conda environment file is not edited by --fix: edit it by hand, then conda env update",
    "conda-list": "a conda list is not edited: change the environment, then list it again",
}
_EDITED = ("requirements", "constraints", "pyproject")

Audit = Callable[[RequirementSet, Sequence[tuple[str, HostProfile]]], AuditReport]
Load = Callable[[], RequirementSet]
_Key = tuple[str, str | None, int | None]


class Outcome(NamedTuple):
    """What became of one fix: the edits, the findings they were for, and why not, if not applied."""

    edits: tuple[Edit, ...]
    findings: tuple[Finding, ...]
    applied: bool
    reason: str | None = None


class FileChange(NamedTuple):
    path: str
    before: str
    after: str


class FixResult(NamedTuple):
    outcomes: tuple[Outcome, ...]
    changes: tuple[FileChange, ...]
    # The audit of the set as the applied fixes leave it (the original audit where none is).
    report: AuditReport
    # The audit the fixes were planned from.
    before: AuditReport

    def diff(self) -> str:
        """The unified diff of every file that changes, in the order the files were read."""
        return "".join(_diff(change) for change in self.changes)


def plan(report: AuditReport, requirements: RequirementSet, load: Load, audit: Audit) -> FixResult:
    """Which fixes of ``report`` hold on every host of it, applied in the order the findings are
    reported (errors first); ``load`` reads the set again (from the edited copies), ``audit`` audits it."""
    planner = _Planner(report, requirements, load, audit)
    accepted: list[Outcome] = []
    outcomes: list[Outcome] = []
    for edits, findings in _units(report.findings):
        reason = _refused(edits, planner.inputs, requirements) or _conflict(edits, findings, accepted)
        if reason is None and planner.gone(findings, accepted):
            # An earlier fix took this finding away (a pin that ends the range it was about).
            reason = "the fixes above already remove it"
        if reason is None:
            reason = planner.rejudged(edits, findings, accepted)
        outcome = Outcome(edits, findings, reason is None, reason)
        outcomes.append(outcome)
        if outcome.applied:
            accepted.append(outcome)
    if not accepted:
        return FixResult(tuple(outcomes), (), report, report)
    edited = planner.edited([e for o in accepted for e in o.edits])
    with fsio.overlay({path: found.text for path, found in edited.items()}):
        after = audit(load(), report.hosts)
    changes = tuple(FileChange(path, planner.originals[path], found.text) for path, found in edited.items())
    return FixResult(tuple(outcomes), tuple(c for c in changes if c.before != c.after), after, report)


class _Planner:
    """The set as read, its audit on each host alone, and the files' texts: what each trial of a
    fix is judged against."""

    def __init__(self, report: AuditReport, requirements: RequirementSet, load: Load, audit: Audit) -> None:
        self.report, self.requirements, self.load, self.audit = report, requirements, load, audit
        self.inputs = {item.path: item for item in requirements.inputs}
        self.before = {
            name: {_key(f) for f in audit(requirements, [(name, host)]).findings} for name, host in report.hosts
        }
        self.originals: dict[str, str] = {}

    def gone(self, findings: tuple[Finding, ...], accepted: list[Outcome]) -> bool:
        """Whether the fixes already accepted leave none of ``findings`` on any host."""
        if not accepted:
            return False
        try:
            edited = self.edited([e for o in accepted for e in o.edits])
        except NotWritable:
            return False
        lines = {path: found.lines for path, found in edited.items()}
        targets = {_moved(_key(f), lines) for f in findings}
        with fsio.overlay({path: found.text for path, found in edited.items()}):
            fixed = self.load()
            found = [f for name, host in self.report.hosts for f in self.audit(fixed, [(name, host)]).findings]
        return not any(_key(f) in targets for f in found)

    def rejudged(self, edits: tuple[Edit, ...], findings: tuple[Finding, ...], accepted: list[Outcome]) -> str | None:
        """Why the fix, with those already applied, does not re-judge clean on every host, or None."""
        try:
            edited = self.edited([*(e for o in accepted for e in o.edits), *edits])
        except NotWritable as exc:
            return str(exc)
        lines = {path: found.lines for path, found in edited.items()}
        targets = {_moved(_key(f), lines) for f in findings}
        disagree: list[str] = []
        with fsio.overlay({path: found.text for path, found in edited.items()}):
            fixed = self.load()
            for name, host in self.report.hosts:
                found = self.audit(fixed, [(name, host)]).findings
                remaining = [f for f in found if _key(f) in targets]
                old = {_moved(key, lines) for key in self.before[name]} | self.before[name]
                new = [f for f in found if f.severity is Severity.ERROR and _key(f) not in old]
                if remaining or new:
                    why = f"{remaining[0].code} remains" if remaining else f"new {new[0].code}: {new[0].message}"
                    disagree.append(f"{printable(name)} ({printable(why)})")
        if not disagree:
            return None
        if len(self.report.hosts) > 1:
            return f"does not hold on {', '.join(disagree)}"
        return f"does not re-judge clean: {disagree[0]}"

    def edited(self, edits: Sequence[Edit]) -> dict[str, Edited]:
        """Each file the edits touch, as they leave it."""
        from envdoctor.fsio import read_text_input

        indexes = self.requirements.host_indexes or self.requirements.indexes
        named = [url for url in (indexes.index_url, *indexes.extra_index_urls) if url]
        by_file: dict[str, list[Edit]] = {}
        for edit in edits:
            by_file.setdefault(edit.path, []).append(edit)
        edited: dict[str, Edited] = {}
        for path, file_edits in by_file.items():
            if path not in self.originals:
                self.originals[path] = read_text_input(path)
            text = self.originals[path]
            if self.inputs[path].kind == "pyproject":
                edited[path] = edit_pyproject(text, path, file_edits)
            else:
                edited[path] = edit_requirements(text, path, file_edits, named)
        return edited


def _units(findings: Sequence[Finding]) -> list[tuple[tuple[Edit, ...], tuple[Finding, ...]]]:
    """Each distinct fix with the findings that offer it (ED101 and ED102 offer one torch build)."""
    by_edits: dict[tuple[Edit, ...], list[Finding]] = {}
    for finding in findings:
        if finding.edits:
            by_edits.setdefault(finding.edits, []).append(finding)
    return [(edits, tuple(found)) for edits, found in by_edits.items()]


def _refused(edits: tuple[Edit, ...], inputs: Mapping[str, Input], requirements: RequirementSet) -> str | None:
    """Why a fix is not written whatever the audit says: the file's kind, or a hash-pinned line."""
    for edit in edits:
        item = inputs.get(edit.path)
        if edit.path.startswith("<") or edit.path == "-" or item is None:
            return f"{printable(edit.path)} is not a file --fix can write"
        if item.kind not in _EDITED:
            return _BY_HAND.get(item.kind, f"a {item.kind} file is not edited by --fix: edit it by hand")
        hashed = [r for r in requirements.requirements if r.location == (edit.path, edit.line) and r.hashes]
        if hashed and edit.replaces is not None:
            return (
                f"{printable(edit.path)}:{edit.line} is hash-pinned, and its hashes would not match the new release: "
                "re-lock it (envdoctor lock, or pip-compile --generate-hashes)"
            )
    return None


def _conflict(edits: tuple[Edit, ...], findings: tuple[Finding, ...], accepted: list[Outcome]) -> str | None:
    """Another fix already applied writes the same line otherwise: the hosts (or rules) disagree."""
    for edit in edits:
        for other in accepted:
            # Two replacements of one line clash; a line added after it (replaces None) does not.
            clash = next(
                (
                    o
                    for o in other.edits
                    if (o.path, o.line) == (edit.path, edit.line)
                    and o.replaces is not None
                    and edit.replaces is not None
                    and o != edit
                ),
                None,
            )
            if clash is None:
                continue
            where = f"{printable(edit.path)}:{edit.line}"
            hosts = [f.host for f in (*other.findings[:1], *findings[:1]) if f.host]
            if not hosts:
                return f"another fix already writes {where} as {clash.requirement}, not {edit.requirement}"
            asks = [f"{f.host} asks {e.requirement}" for f, e in ((other.findings[0], clash), (findings[0], edit))]
            return f"the hosts disagree on {where}: {'; '.join(asks)}"
    return None


def _key(finding: Finding) -> _Key:
    location = finding.location
    return (finding.code, location.path if location else None, location.line if location else None)


def _moved(key: _Key, lines: Mapping[str, Mapping[int, int]]) -> _Key:
    """A finding's place in the edited files (a line added above moves the lines below)."""
    code, path, line = key
    if path is None or line is None or path not in lines:
        return key
    return (code, path, lines[path].get(line, line))


def _diff(change: FileChange) -> str:
    """The unified diff of one file, made printable but for its tabs (a file may hold any byte)."""
    path = printable(change.path)
    lines = difflib.unified_diff(
        change.before.splitlines(keepends=True), change.after.splitlines(keepends=True), path, path
    )
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        shown = "\t".join(printable(part) for part in body.split("\t"))
        out.append(f"{shown}\n" if line.endswith(("\n", "\r")) else f"{shown}\n\\ No newline at end of file\n")
    return "".join(out)
