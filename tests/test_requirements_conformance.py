"""envdoctor's requirements reader against pip's own parser, on real requirements files.

The corpus (tests/fixtures/requirements_corpus, see its PROVENANCE.md) is requirements and
constraints files that public ML projects commit: index options, hashes on continuation lines,
markers, -r/-c includes, URLs, VCS references, editables, extras and comments. Each file is read
by envdoctor (requirements_txt.read_requirements) and by pip (pip._internal.req.req_file, the
installed pip, used here only as an oracle), and per file the requirement lines (name, specifier,
extras, marker, URL, editable, hashes, constraint) and the index options pip would use are
compared. A difference fails the test unless ALLOWED below says why envdoctor differs on purpose.
"""

from __future__ import annotations

import os
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from envdoctor.errors import InputError
from envdoctor.requirements.model import Form, IndexOptions, Requirement
from envdoctor.requirements.requirements_txt import read_requirement_lines, read_requirements

CORPUS = Path(__file__).parent / "fixtures" / "requirements_corpus"
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".txt", ".in"))
# pip's default index, which a file's --index-url replaces and its --extra-index-url adds to.
PYPI = "https://pypi.org/simple"
_COMES_FROM = re.compile(r"^-[rc] (?P<path>.*) \(line (?P<line>\d+)\)$")


class Line(NamedTuple):
    """One requirement line, as a parser reads it: the fields both parsers are compared on."""

    name: str | None
    specifier: frozenset[str]
    extras: frozenset[str]
    marker: str | None
    url: str | None
    editable: bool
    hashes: frozenset[str]
    constraint: bool


class Reading(NamedTuple):
    lines: dict[tuple[str, int], Line]
    index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    error: str | None = None


class Difference(NamedTuple):
    file: str  # relative to the corpus
    where: str  # file:line of the requirement, or the file for index options and errors
    field: str
    pip: object
    envdoctor: object


def _marker(marker: object) -> str | None:
    # Both sides through one packaging, so that the same marker reads the same.
    return None if marker is None else str(Marker(str(marker)))


def _url_or_path(url: str) -> str:
    """A URL as pip keeps it; a local file or folder (a path or a file: URL) as its absolute path."""
    if url.startswith("file:"):
        return "path:" + os.path.normpath(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    return url


def pip_reading(path: Path) -> Reading:
    """What pip reads from ``path``: each requirement line, and the finder's index options."""
    from pip._internal.exceptions import PipError
    from pip._internal.index.collector import LinkCollector
    from pip._internal.index.package_finder import PackageFinder
    from pip._internal.models.search_scope import SearchScope
    from pip._internal.models.selection_prefs import SelectionPreferences
    from pip._internal.network.session import PipSession
    from pip._internal.req.constructors import install_req_from_parsed_requirement
    from pip._internal.req.req_file import parse_requirements as pip_parse
    from pip._vendor.packaging.requirements import InvalidRequirement

    session = PipSession()
    scope = SearchScope.create(find_links=[], index_urls=[PYPI], no_index=False)
    finder = PackageFinder.create(LinkCollector(session, scope), SelectionPreferences(allow_yanked=True))
    lines: dict[tuple[str, int], Line] = {}
    error = None
    try:
        for parsed in pip_parse(str(path), session, finder=finder):
            ireq = install_req_from_parsed_requirement(parsed)
            where = _COMES_FROM.match(parsed.comes_from)
            assert where is not None, parsed.comes_from
            key = (os.path.realpath(where.group("path")), int(where.group("line")))
            req = ireq.req
            lines[key] = Line(
                name=canonicalize_name(req.name) if req is not None else None,
                specifier=frozenset(str(s) for s in req.specifier) if req is not None else frozenset(),
                extras=frozenset(canonicalize_name(extra) for extra in ireq.extras),
                marker=_marker(ireq.markers),
                url=_url_or_path(ireq.link.url) if ireq.link is not None else None,
                editable=ireq.editable,
                hashes=frozenset(f"{alg}:{h}" for alg, values in ireq.hash_options.items() for h in values),
                constraint=ireq.constraint,
            )
    except (PipError, InvalidRequirement, ValueError) as exc:
        error = str(exc).splitlines()[0]
    indexes = () if finder.search_scope.no_index else tuple(dict.fromkeys(finder.index_urls))
    return Reading(lines, indexes, tuple(dict.fromkeys(finder.find_links)), error)


def envdoctor_reading(path: Path, root: Path, environ: dict[str, str] | None = None) -> Reading:
    try:
        found = read_requirements(str(path), root=root, environ=environ or {})
    except InputError as exc:
        return Reading({}, (), (), str(exc))
    lines = {(os.path.realpath(r.location.path), r.location.line or 0): _line(r) for r in found.requirements}
    return Reading(lines, _index_urls(found.indexes), found.indexes.find_links)


def _line(requirement: Requirement) -> Line:
    url = requirement.url
    if url is not None and requirement.form is Form.PATH and not url.startswith("file:"):
        url = "path:" + os.path.abspath(url)  # pip makes a path absolute against the current folder
    return Line(
        name=requirement.name,
        specifier=frozenset(str(s) for s in requirement.specifier),
        extras=requirement.extras,
        marker=_marker(requirement.marker),
        url=None if url is None else _url_or_path(url),
        editable=requirement.editable,
        hashes=frozenset(requirement.hashes),
        constraint=requirement.constraint,
    )


def _index_urls(index: IndexOptions) -> tuple[str, ...]:
    """envdoctor's index options as pip's finder lists them."""
    if index.no_index:
        return ()
    return tuple(dict.fromkeys([index.index_url or PYPI, *index.extra_index_urls]))


def differences(path: Path, root: Path = CORPUS, environ: dict[str, str] | None = None) -> list[Difference]:
    """How envdoctor's reading of ``path`` differs from pip's; ``root``: the folder that holds the
    project (names are given relative to it); ``environ``: the variables set (for pip, in os.environ)."""
    relative = str(path.relative_to(root))
    project = root / path.relative_to(root).parts[0] if root == CORPUS else root
    pip, ours = pip_reading(path), envdoctor_reading(path, project, environ)
    found: list[Difference] = []
    if pip.error or ours.error:
        return (
            [Difference(relative, relative, "error", pip.error, ours.error)]
            if bool(pip.error) != bool(ours.error)
            else []
        )
    for key in sorted(pip.lines.keys() | ours.lines.keys()):
        where = f"{Path(key[0]).relative_to(root.resolve())}:{key[1]}"
        mine, theirs = ours.lines.get(key), pip.lines.get(key)
        if mine is None or theirs is None:
            found.append(Difference(relative, where, "line", theirs, mine))
            continue
        for field in Line._fields:
            if getattr(mine, field) != getattr(theirs, field):
                found.append(Difference(relative, where, field, getattr(theirs, field), getattr(mine, field)))
    if pip.index_urls != ours.index_urls:
        found.append(Difference(relative, relative, "index_urls", pip.index_urls, ours.index_urls))
    if pip.find_links != ours.find_links:
        found.append(Difference(relative, relative, "find_links", pip.find_links, ours.find_links))
    return found


def _wheel_version_from_file_name(difference: Difference) -> bool:
    # pip turns a wheel URL into name==version from the file name (req/constructors.py,
    # parse_req_from_line); envdoctor keeps such a line a URL requirement (Form.URL) whose
    # version is the file's: the rules judge the URL, and a specifier would make the line read
    # as an index pin. The name agrees; only the derived specifier is left out.
    pip, ours = difference.pip, difference.envdoctor
    return (
        difference.field == "specifier"
        and ours == frozenset()
        and isinstance(pip, frozenset)
        and len(pip) == 1
        and next(iter(pip)).startswith("==")
    )


def _credentials_as_written(difference: Difference) -> bool:
    # pip expands a ${VARIABLE} in a URL's credentials (https://${TOKEN}@host/...); envdoctor
    # leaves it as written: the value is a secret no report may carry, and it changes who may
    # download, not what is installed. The URLs agree once the variables are put in.
    ours, pip = difference.envdoctor, difference.pip
    if difference.field != "url" or not isinstance(ours, str) or not _CREDENTIAL_VARIABLE.search(ours):
        return False
    return re.sub(r"\$\{([A-Z0-9_]+)\}", lambda m: os.environ.get(m.group(1), m.group()), ours) == pip


def _sdist_named_from_its_file(difference: Difference) -> bool:
    # pip leaves a local or remote sdist unnamed until it builds it (parse_req_from_line takes the
    # name from #egg= only); envdoctor reads name-version.tar.gz (the sdist file name) to judge it.
    return difference.field == "name" and difference.pip is None and isinstance(difference.envdoctor, str)


def _a_hash_alone_on_a_line(difference: Difference) -> bool:
    # pip ignores --hash on a line without a requirement (with a warning); envdoctor refuses the
    # file: such a hash was meant for the requirement above it (a lost backslash) and would never
    # be checked (tests/test_sources.py keeps this).
    return difference.field == "error" and "--hash without a requirement" in str(difference.envdoctor)


_CREDENTIAL_VARIABLE = re.compile(r"://[^/@\s]*\$\{[A-Z0-9_]+\}[^/@\s]*@")

# Differences envdoctor keeps on purpose: (test, why). Everything else is a bug in the reader.
ALLOWED: list[tuple[Callable[[Difference], bool], str]] = [
    (_wheel_version_from_file_name, "pip derives name==version from a wheel's file name; envdoctor keeps the URL"),
    (_credentials_as_written, "a ${VARIABLE} in a URL's credentials is kept as written, never expanded"),
    (_sdist_named_from_its_file, "pip names an sdist only once built; envdoctor reads its file name"),
    (_a_hash_alone_on_a_line, "a --hash alone on a line is refused, where pip ignores it"),
]


def _allowed(difference: Difference) -> str | None:
    return next((why for test, why in ALLOWED if test(difference)), None)


@pytest.fixture(autouse=True)
def _in_the_files_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # pip expands ${VAR} from os.environ; the corpus is read with none of its variables set.
    for name in list(os.environ):
        if re.fullmatch(r"[A-Z0-9_]+", name) and name not in ("PATH", "HOME"):
            monkeypatch.delenv(name, raising=False)
    yield


def test_the_corpus_is_large_and_varied() -> None:
    texts = [path.read_text(encoding="utf-8") for path in FILES]
    projects = {path.relative_to(CORPUS).parts[0] for path in FILES}
    assert len(FILES) >= 40 and len(projects) >= 20
    features = {
        "hash on a continuation line": r"\\\n\s+--hash=sha256:",
        "index url": r"(?m)^--index-url ",
        "extra index": r"(?m)^--extra-index-url ",
        "find links": r"(?m)^(-f|--find-links) ",
        "include": r"(?m)^-r ",
        "constraint include": r"(?m)^-c ",
        "editable": r"(?m)^-e ",
        "pre": r"(?m)^--pre ",
        "trusted host": r"(?m)^--trusted-host ",
        "marker": r"(?m)^[A-Za-z][^#\n]*;",
        "wheel URL with a marker": r"(?m)^https://\S+\.whl; ",
        "VCS": r"git\+https://",
        "name @ URL": r"(?m)^[A-Za-z0-9_.-]+(\[[^\]]+\])? ?@ ?git\+",
        "extras": r"(?m)^[A-Za-z0-9_.-]+\[",
        "trailing comment": r"(?m)^[^#\n]+ #",
    }
    missing = [what for what, pattern in features.items() if not any(re.search(pattern, text) for text in texts)]
    assert missing == []
    assert (CORPUS / "PROVENANCE.md").read_text(encoding="utf-8").count("|") > 4 * len(FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_envdoctor_reads_what_pip_reads(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pip makes a local path absolute against the current folder (not the file's): run both there.
    monkeypatch.chdir(path.parent)
    unexplained = [d for d in differences(path) if _allowed(d) is None]
    assert unexplained == []


def test_the_corpus_lines_are_all_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The figures of the comparison, and a floor so that a parser that reads nothing cannot pass."""
    figures = conformance_figures(monkeypatch)
    assert figures["files"] == len(FILES)
    assert figures["errors"] == 0
    assert figures["lines"] > 1000


def conformance_figures(monkeypatch: pytest.MonkeyPatch | None = None) -> dict[str, Any]:
    totals: dict[str, Any] = {"files": 0, "lines": 0, "errors": 0, "allowed": {}, "unexplained": 0}
    for path in FILES:
        if monkeypatch is not None:
            monkeypatch.chdir(path.parent)
        else:
            os.chdir(path.parent)
        totals["files"] += 1
        pip = pip_reading(path)
        totals["lines"] += len(pip.lines)
        totals["errors"] += bool(pip.error)
        for difference in differences(path):
            why = _allowed(difference)
            if why is None:
                totals["unexplained"] += 1
            else:
                totals["allowed"][why] = totals["allowed"].get(why, 0) + 1
    return totals


SIX = "six==1.16.0"
SIX_HASHES = (
    "--hash=sha256:1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926",
    "--hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254",
)
WHEEL = "https://github.com/oobabooga/llama-cpp-binaries/releases/download/v0.124.0/llama_cpp_binaries-0.124.0+cu124-py3-none-linux_x86_64.whl"
THEME = "git+https://github.com/pytorch/pytorch_sphinx_theme.git"
PROJECT = '[project]\nname = "pkg"\nversion = "1.0"\n'
# The forms pip's documentation gives (https://pip.pypa.io/en/stable/reference/requirements-file-format/)
# and the corners of its parser (req_file.py) that the corpus happens not to hold, each read by
# both parsers: {file: text}, read from requirements.txt with the current folder at the top.
PIP_FORMS: dict[str, dict[str, str]] = {
    "a name continued on the next line": {"requirements.txt": "torch\\\n==2.1.0\n"},
    "a comment line ends a continued line": {"requirements.txt": f"{SIX} \\\n# a comment \\\nnumpy==1.26.4\n"},
    "a backslash after a comment continues into the comment": {
        "requirements.txt": f"{SIX} # was pinned \\\nnumpy==1.26.4\ntqdm\n"
    },
    "hashes on continuation lines": {"requirements.txt": f"{SIX} \\\n    {SIX_HASHES[0]} \\\n    {SIX_HASHES[1]}\n"},
    "a hash on an option line is ignored": {"requirements.txt": f"{SIX_HASHES[0]}\n{SIX}\n"},
    "a sha384 hash": {"requirements.txt": f"{SIX} --hash=sha384:{'ab' * 48}\n"},
    "index options on a requirement line are ignored": {
        "requirements.txt": "torch==2.1.0+cu121 --extra-index-url https://download.pytorch.org/whl/cu121\n"
    },
    "--index-url after --extra-index-url replaces both": {
        "requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu121\n"
        "--index-url https://download.pytorch.org/whl/cpu\ntorch\n"
    },
    "--extra-index-url and --index-url on one line": {
        "requirements.txt": "--extra-index-url https://pypi.nvidia.com -i https://download.pytorch.org/whl/cu121\ntorch\n"
    },
    "--no-index drops the indexes before and after it": {
        "requirements.txt": "-i https://download.pytorch.org/whl/cu121\n--no-index\n"
        "--extra-index-url https://pypi.nvidia.com\n--find-links https://download.pytorch.org/whl/torch_stable.html\n"
        "torch\n"
    },
    "--pre and an index on one line": {
        "requirements.txt": "--pre --extra-index-url https://pypi.nvidia.com\ntensorrt_llm\n"
    },
    "an abbreviated long option": {
        "requirements.txt": "--extra-index=https://pypi.nvidia.com\n--find https://x.org/w\nsix\n"
    },
    "--pypi-url, pip's other spelling of --index-url": {"requirements.txt": "--pypi-url https://x.org/simple\nsix\n"},
    "a short option's value attached": {"requirements.txt": "-rother.txt\n-ihttps://x.org/simple\n", "other.txt": SIX},
    "two includes on one line: pip follows the first": {
        "requirements.txt": "-r a.txt -r b.txt\n",
        "a.txt": "six\n",
        "b.txt": "numpy\n",
    },
    "a constraints file beside a requirements file": {
        "requirements.txt": "-c constraints.txt\ntorch>=2\n",
        "constraints.txt": "torch==2.1.0\nnumpy<2\n",
    },
    "one --find-links a line": {"requirements.txt": "-f https://a.org/w -f https://b.org/w\nsix\n"},
    "a --find-links folder beside the file": {
        "sub/requirements.txt": "--find-links wheels\nsix\n",
        "sub/wheels/.keep": "",
    },
    "a wheel URL with a marker after '; '": {
        "requirements.txt": f'{WHEEL}; platform_system == "Linux" and platform_machine == "x86_64"\n'
    },
    "a wheel URL with a marker after ' ; '": {"requirements.txt": f"{WHEEL} ; python_version >= '3.9'\n"},
    "a PyTorch wheel URL, its + written %2B": {
        "requirements.txt": "https://download.pytorch.org/whl/cu121/torch-2.1.0%2Bcu121-cp311-cp311-linux_x86_64.whl\n"
    },
    "a name @ URL with a marker": {"requirements.txt": f"llama-cpp-binaries @ {WHEEL} ; sys_platform == 'linux'\n"},
    "a VCS URL with a commit and a subdirectory": {
        "requirements.txt": f"{THEME}@{'a1b2c3d4' * 5}#egg=pytorch_sphinx_theme&subdirectory=x\n"
    },
    "an editable VCS URL named by #egg=": {"requirements.txt": f"-e {THEME}#egg=pytorch_sphinx_theme\n"},
    # Quoted: the words after -e are options, and an unquoted "name @ URL" is three of them.
    "an editable name @ VCS URL": {"requirements.txt": f'-e "pytorch-sphinx-theme @ {THEME}"\n'},
    "a local folder with extras": {"requirements.txt": "./pkg[gpu,dev]\n", "pkg/pyproject.toml": PROJECT},
    "an editable local folder with extras": {"requirements.txt": "-e ./pkg[dev]\n", "pkg/pyproject.toml": PROJECT},
    "an editable project folder": {"requirements.txt": "-e .\n", "pyproject.toml": PROJECT},
    "a folder named without a leading dot": {"requirements.txt": "libs/pkg\n", "libs/pkg/pyproject.toml": PROJECT},
    "a local wheel": {"requirements.txt": "./dist/pkg-1.0-py3-none-any.whl\n", "dist/pkg-1.0-py3-none-any.whl": ""},
    "a local sdist": {"requirements.txt": "./dist/pkg-1.0.tar.gz\n", "dist/pkg-1.0.tar.gz": ""},
    "specifiers and markers with spaces": {
        "requirements.txt": 'torch >= 2.1, < 2.3 ; python_version<"3.12" and platform_machine=="x86_64"\n'
    },
    "a marker without spaces around ';'": {"requirements.txt": 'triton>=2.0.0;platform_machine=="x86_64"\n'},
    "extras and a marker": {"requirements.txt": "jax[cuda12]==0.4.30; sys_platform == 'linux'\n"},
    "per-requirement build settings": {"requirements.txt": f"{SIX} --config-settings=key=value\n{SIX} -C key=value\n"},
    "options pip applies nowhere": {
        "requirements.txt": "--only-binary :all:\n--no-binary six\n--prefer-binary\n--require-hashes\n"
        "--no-require-hashes\n--trusted-host pypi.nvidia.com\n--use-feature truststore\nsix\n"
    },
    "a quoted include": {"requirements.txt": '-r "base deps.txt"\n', "base deps.txt": SIX},
    "no newline at the end": {"requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cpu\ntorchaudio"},
}


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("form", list(PIP_FORMS), ids=list(PIP_FORMS))
def test_pips_forms_are_read_as_pip_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    files = PIP_FORMS[form]
    _write(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    entry = tmp_path / next(name for name in files if name.endswith("requirements.txt"))
    pip = pip_reading(entry)
    assert pip.error is None and (pip.lines or pip.index_urls != (PYPI,))
    unexplained = [d for d in differences(entry, tmp_path) if _allowed(d) is None]
    assert unexplained == []


def test_lines_kept_elsewhere_are_read_as_a_files_lines(tmp_path: Path) -> None:
    # conda's pip: section is written by conda into a file beside environment.yml: the same lines
    # read from a list give what the file gives, includes resolved beside the named path.
    source = CORPUS / "pytorch__serve" / "requirements"
    path = source / "torch_cu121_linux.txt"
    lines = list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))
    from_lines = read_requirement_lines(lines, str(path), root=source, environ={})
    from_file = read_requirements(str(path), root=source, environ={})
    assert from_lines.requirements == from_file.requirements and from_lines.indexes == from_file.indexes
    assert [i.path for i in from_lines.inputs] == [i.path for i in from_file.inputs][1:]
    with pytest.raises(InputError, match=r":2: invalid requirement"):
        read_requirement_lines([(1, "six"), (2, "torch=2.1")], str(tmp_path / "requirements.txt"), root=tmp_path)
    kept = read_requirement_lines(
        [(1, "six"), (2, "torch=2.1"), (3, "numpy")], str(tmp_path / "r.txt"), root=tmp_path, keep_going=True
    )
    assert [r.name for r in kept.requirements] == ["six", "numpy"]
    assert [(why.split(":")[0], where.line) for why, where in kept.unread] == [("'torch=2.1'", 2)]
