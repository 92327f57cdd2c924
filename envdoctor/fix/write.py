"""Edits applied to a file's text: a requirements file line by line, a pyproject.toml through
tomlkit, so that everything but the edited values (comments, order, quoting, layout) stays as
written. Each new requirement is checked before it is written: one line, the same package, the
marker the line had; anything else is refused (UnsafeEdit, exit 2), never written."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import canonicalize_name

from envdoctor.errors import InputError
from envdoctor.findings import Edit
from envdoctor.safety import has_control, quote

# The name and extras at the head of a requirement as written (PEP 508's identifier).
_HEAD = re.compile(r"^\s*(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?P<extras>\[[^\]]*\])?")
_INDEX_OPTION = re.compile(r"^\s*(?:--index-url|--extra-index-url|-i)(?:\s+|=)(?P<url>\S+)")
# A PyTorch variant index, the one kind of index a build fix names.
_PYTORCH_INDEX = re.compile(r"^https://download\.pytorch\.org/whl/(?P<variant>[a-z0-9.]+)/?$")
# Where a uv project takes a CUDA build from its index, as uv's PyTorch guide writes the source
# (docs/guides/integration/pytorch.md, "Configuring accelerators with environment markers"):
# elsewhere the package still comes from PyPI.
_CUDA_SOURCE_MARKER = "sys_platform == 'linux'"
# An exact pin's local build label: in a uv project, the source names the build instead.
_PIN_LABEL = re.compile(r"(==\s*[0-9][^\s,;+]*)\+[A-Za-z0-9.]+")


class UnsafeEdit(InputError):
    """A fix that would write something other than the requirement it names into a file."""


class NotWritable(Exception):
    """A fix that cannot be written here (the line no longer reads as it was read): not applied."""


class Edited(NamedTuple):
    text: str
    # Where each line of the old text is in the new one (lines were added above some).
    lines: dict[int, int]


def rewritten(replaces: str, requirement: str, path: str, line: int | None) -> str:
    """``replaces`` (a requirement as written) with the specifier of ``requirement``: its name as
    spelt, its extras and its marker (with the spacing before it) kept."""
    head, new_head = _HEAD.match(replaces), _HEAD.match(requirement)
    if head is None or new_head is None:
        raise UnsafeEdit(path, f"cannot rewrite {quote(replaces)} as {quote(requirement)}", line)
    before, semicolon, _marker = replaces.partition(";")
    tail = replaces[len(before.rstrip()) :] if semicolon else ""
    specifier = requirement[new_head.end() :].strip()
    result = f"{head['name']}{head['extras'] or ''}{specifier}{tail}"
    _check(replaces, requirement, result, path, line)
    return result


def _check(replaces: str, requirement: str, result: str, path: str, line: int | None) -> None:
    """The new requirement is one line, names the package the old one did and keeps its marker."""
    try:
        old, new, wanted = Pep508(replaces), Pep508(result), Pep508(requirement)
    except InvalidRequirement:
        what = f"the fix {quote(requirement)} does not make a requirement of {quote(replaces)}"
        raise UnsafeEdit(path, what, line) from None
    same = canonicalize_name(old.name) == canonicalize_name(new.name) == canonicalize_name(wanted.name)
    if has_control(result) or not same or str(old.marker) != str(new.marker) or wanted.marker or wanted.url:
        raise UnsafeEdit(
            path, f"the fix {quote(requirement)} would write more than a requirement of {quote(replaces)}", line
        )


def _check_added(edit: Edit) -> None:
    try:
        added = Pep508(edit.requirement)
    except InvalidRequirement:
        added = None
    if added is None or has_control(edit.requirement) or added.marker or added.url:
        raise UnsafeEdit(edit.path, f"the fix {quote(edit.requirement)} is not one requirement", edit.line)


def _check_index(edit: Edit) -> str:
    index = edit.index_url or ""
    if not index.startswith("https://") or any(c.isspace() for c in index) or has_control(index):
        raise UnsafeEdit(edit.path, f"the index {quote(index)} is not one https URL", edit.line)
    return index


def edit_requirements(text: str, path: str, edits: Sequence[Edit], indexes: Sequence[str]) -> Edited:
    """A requirements file with ``edits`` made: each requirement replaced where it starts its line
    (comments, options and continuations after it kept), requirements added after the line of
    the package that pulls them in, and an ``--extra-index-url`` line for an index neither the
    file nor ``indexes`` (the set's) names yet, above the first line that is not a comment."""
    lines = text.splitlines(keepends=True)
    ending = next((line[len(line.rstrip("\r\n")) :] for line in lines if line.endswith("\n")), "\n")
    added: dict[int, list[str]] = {}  # new lines, by the old line (0: the top) they go after
    for edit in edits:
        number = edit.line or 0
        if not 1 <= number <= len(lines):
            raise NotWritable(f"line {number} is not in the file")
        if edit.replaces is None:
            _check_added(edit)
            added.setdefault(_logical_end(lines, number), []).append(edit.requirement)
            continue
        body = lines[number - 1].rstrip("\r\n")
        start = len(body) - len(body.lstrip())
        if not body[start:].startswith(edit.replaces):
            raise NotWritable(f"line {number} no longer starts with {quote(edit.replaces)}")
        new = rewritten(edit.replaces, edit.requirement, path, number)
        lines[number - 1] = body[:start] + new + body[start + len(edit.replaces) :] + lines[number - 1][len(body) :]
    named = {*indexes, *(m["url"] for line in lines if (m := _INDEX_OPTION.match(line)))}
    for index in sorted({_check_index(edit) for edit in edits if edit.index_url} - named):
        added.setdefault(_top(lines), []).insert(0, f"--extra-index-url {index}")
    if lines and not lines[-1].endswith(("\n", "\r")) and len(lines) in added:
        lines[-1] += ending  # a line added after the last, which had no line break
    return _with_added(lines, added, ending)


def _logical_end(lines: list[str], number: int) -> int:
    """The last physical line of the logical line starting at ``number`` (a backslash continues it)."""
    while number < len(lines) and lines[number - 1].rstrip("\r\n").endswith("\\"):
        number += 1
    return number


def _top(lines: list[str]) -> int:
    """The line after the file's opening comments and blank lines, where an index line goes."""
    for number, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            return number
    return len(lines)


def _with_added(lines: list[str], added: dict[int, list[str]], ending: str) -> Edited:
    out: list[str] = [*(f"{line}{ending}" for line in added.get(0, []))]
    moved: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        out.append(line)
        moved[number] = len(out)
        out += [f"{new}{ending}" for new in added.get(number, [])]
    return Edited("".join(out), moved)


def edit_pyproject(text: str, path: str, edits: Sequence[Edit]) -> Edited:
    """A pyproject.toml with each requirement of ``edits`` replaced in the list it is in
    ([project] dependencies, optional dependencies, dependency groups), through tomlkit."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        document = tomlkit.parse(text)
    except TOMLKitError:
        raise NotWritable("tomlkit cannot read this pyproject.toml to edit it in place") from None
    for edit in edits:
        if edit.replaces is None:
            raise NotWritable("adding a dependency to pyproject.toml is not done by --fix yet: add it by hand")
        array, position = _place(document, text, edit)
        new = rewritten(edit.replaces, edit.requirement, path, edit.line)
        if edit.index_url is not None:
            new = _from_uv_index(document, array, edit, new)
        old = array[position]
        literal = getattr(getattr(old, "type", None), "name", "") == "SLL" and "'" not in new
        array[position] = tomlkit.string(new, literal=literal)
    return Edited(tomlkit.dumps(document), {n: n for n in range(1, text.count("\n") + 2)})


def _from_uv_index(document: Any, array: Any, edit: Edit, new: str) -> str:
    """Take the package of ``new`` from ``edit.index_url`` as a uv project does: the index in
    [[tool.uv.index]] (explicit, named as uv's guide names PyTorch's), and the package's
    [tool.uv.sources] entry for the list it is in pointing at it. The requirement then pins the
    release alone: the source decides the build. Only in a project that already takes packages
    from indexes of its own this way; anywhere else the index is the installer's to give."""
    import tomlkit

    uv = document.get("tool", {}).get("uv")
    if not hasattr(uv, "get") or not ("sources" in uv or "index" in uv):
        raise NotWritable(
            f"it needs the index {edit.index_url}, and this pyproject.toml names no index of its own "
            "([tool.uv.sources]): give the index to the installer, or add one by hand"
        )
    name = _uv_index_name(uv, _check_index(edit))
    selector = next((found for found, listed in _selected_lists(document) if listed is array), None)
    if selector is None:
        raise NotWritable("the list this requirement is in is not one a uv source can select")
    package = canonicalize_name(Pep508(new).name)
    if "sources" not in uv:
        uv["sources"] = tomlkit.table()
    sources = uv["sources"]
    key = next((key for key in sources if canonicalize_name(key) == package), None)
    if key is None:
        entry = tomlkit.inline_table()
        entry.update({"index": name, **selector, "marker": _CUDA_SOURCE_MARKER})
        sources[package] = entry
    else:
        _point_source(sources[key], package, name, selector)
    return _PIN_LABEL.sub(r"\1", new, count=1)


def _uv_index_name(uv: Any, url: str) -> str:
    """The name of the project's index at ``url``: one it has, or a PyTorch variant index added."""
    import tomlkit

    indexes = uv.get("index")
    if indexes is None:
        indexes = uv["index"] = tomlkit.aot()
    for entry in indexes:
        if str(entry.get("url", "")).rstrip("/") == url.rstrip("/") and "name" in entry:
            return str(entry["name"])
    match = _PYTORCH_INDEX.match(url)
    if match is None:
        raise NotWritable(f"it needs the index {url}: add it to [[tool.uv.index]] by hand")
    name = f"pytorch-{match['variant']}"
    if any(entry.get("name") == name for entry in indexes):
        raise NotWritable(f"the project's index {name} is not {url}: add the index by hand")
    table = tomlkit.table()
    table.update({"name": name, "url": url, "explicit": True})
    table.add(tomlkit.nl())  # a blank line before what follows, as between the project's own tables
    indexes.append(table)
    return name


def _point_source(entry: Any, package: str, name: str, selector: dict[str, str]) -> None:
    """The one source of ``package`` that applies to the requirement's list, now naming index ``name``."""
    entries = list(entry) if isinstance(entry, list) else [entry]
    applying = [one for one in entries if hasattr(one, "get") and _applies(one, selector)]
    if len(applying) != 1 or "index" not in applying[0]:
        raise NotWritable(
            f"[tool.uv.sources] {package}: not one index source for this requirement's list: edit it by hand"
        )
    applying[0]["index"] = name


def _applies(source: Any, selector: dict[str, str]) -> bool:
    """Whether a source entry applies to a requirement of the list ``selector`` names."""
    if "extra" in source:
        return selector.get("extra") == str(source["extra"])
    if "group" in source:
        return selector.get("group") == str(source["group"])
    return True


def _selected_lists(document: Any) -> Iterator[tuple[dict[str, str], Any]]:
    """Each dependency list with what a uv source uses to select it: an extra, a group, or nothing."""
    project = document.get("project", {})
    if isinstance(project.get("dependencies"), list):
        yield {}, project["dependencies"]
    optional = project.get("optional-dependencies", {})
    for extra, listed in optional.items() if hasattr(optional, "items") else ():
        yield {"extra": str(extra)}, listed
    groups = document.get("dependency-groups", {})
    for group, listed in groups.items() if hasattr(groups, "items") else ():
        yield {"group": str(group)}, listed


def _place(document: Any, text: str, edit: Edit) -> tuple[Any, int]:
    """The list and position of the requirement an edit replaces: of the occurrences of that
    string in the dependency lists, the one on the edit's line."""
    found = [(array, n) for array in _dependency_lists(document) for n, v in enumerate(array) if v == edit.replaces]
    if len(found) == 1:
        return found[0]
    quoted = re.compile(re.escape(f'"{edit.replaces}"') + "|" + re.escape(f"'{edit.replaces}'"))
    lines = [text.count("\n", 0, match.start()) + 1 for match in quoted.finditer(text)]
    if len(lines) == len(found) and edit.line in lines:
        return found[lines.index(edit.line)]
    raise NotWritable(f"{quote(edit.replaces or '')} is not found once in the dependency lists")


def _dependency_lists(document: Any) -> Iterator[Any]:
    """The lists of requirements a pyproject.toml holds, in the order they are written."""
    project = document.get("project", {})
    yield from _lists([project.get("dependencies")])
    optional = project.get("optional-dependencies", {})
    yield from _lists(optional.values() if hasattr(optional, "values") else [])
    groups = document.get("dependency-groups", {})
    yield from _lists(groups.values() if hasattr(groups, "values") else [])
    uv = document.get("tool", {}).get("uv", {})
    yield from _lists([uv.get("dev-dependencies")] if hasattr(uv, "get") else [])


def _lists(values: Any) -> Iterator[Any]:
    yield from (value for value in values if isinstance(value, list))
