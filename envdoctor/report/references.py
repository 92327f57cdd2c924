"""A finding's references as pages people can read.

The knowledge base cites the exact URL it read a fact from, and the JSON report keeps it (the
evidence). Some of those URLs are files: a wheel of several hundred megabytes on
files.pythonhosted.org, an index's JSON API. A human format (text, Markdown, SARIF, GitHub
annotations) shows the page about that file instead: the release's page on PyPI (which shows
the METADATA the fact was read from), the package's page on its PyTorch index. Anything else
(documentation, release notes, a GitHub blob) is already a page and stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

PYPI_PROJECT = "https://pypi.org/project"
# Hosts whose files are PyPI's: the release page on pypi.org is theirs.
_PYPI_FILE_HOSTS = frozenset({"files.pythonhosted.org"})
_PYTORCH_HOST = "download.pytorch.org"
# A project name (PEP 508) and a version as a URL path segment may hold: nothing else is put in a URL.
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(r"[A-Za-z0-9.!+_-]+")
_PYTORCH_FOLDER = re.compile(r"/whl(?:/(?!\.+(?:/|$))[A-Za-z0-9._-]+)*")
# A file name longer than this is no distribution (and parsing it buys nothing).
_MAX_FILE_NAME = 300


def readable(url: str) -> str:
    """The page to show for ``url``: a distribution file's release or index page, an index API's
    project page; ``url`` itself where there is none or it cannot be parsed."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[::1" and the like: not ours to mend
        return url
    if parts.scheme not in ("https", "http"):
        return url
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    if host in _PYPI_FILE_HOSTS:
        release = _distribution(path.rsplit("/", 1)[-1])
        return f"{PYPI_PROJECT}/{release[0]}/{release[1]}/" if release else url
    if host == _PYTORCH_HOST:
        return _pytorch_page(parts.scheme, path) or url
    if host == "pypi.org":
        return _pypi_api_page(path) or url
    return url


def readable_all(urls: Iterable[str]) -> tuple[str, ...]:
    """Each reference's readable page, once (two wheels of one release share its page), in order."""
    return tuple(dict.fromkeys(readable(url) for url in urls))


def _distribution(file_name: str) -> tuple[str, str] | None:
    """(normalized name, version) of a wheel or sdist file name (a ``.metadata`` file is its
    wheel's, PEP 658), or None."""
    file_name = file_name.removesuffix(".metadata")
    if len(file_name) > _MAX_FILE_NAME:
        return None
    try:
        if file_name.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(file_name)
        elif file_name.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(file_name)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return (name, str(version)) if _NAME.fullmatch(name) else None


def _pytorch_page(scheme: str, path: str) -> str | None:
    """A wheel on PyTorch's index (/whl/cu121/torch-2.2.0+cu121-...whl) -> the index's page that
    lists that package's files (/whl/cu121/torch/)."""
    folder, _, file_name = path.rpartition("/")
    if not file_name.endswith(".whl") or _PYTORCH_FOLDER.fullmatch(folder) is None:
        return None
    release = _distribution(file_name)
    return f"{scheme}://{_PYTORCH_HOST}{folder}/{release[0]}/" if release else None


def _pypi_api_page(path: str) -> str | None:
    """PyPI's JSON API (/pypi/NAME/json, /pypi/NAME/VERSION/json) or simple index (/simple/NAME/)
    -> the project's (or release's) page."""
    words = [word for word in path.split("/") if word]
    if len(words) < 2 or _NAME.fullmatch(words[1]) is None:
        return None
    project = f"{PYPI_PROJECT}/{canonicalize_name(words[1])}/"
    if words[0] == "pypi" and words[2:] == ["json"]:
        return project
    if words[0] == "pypi" and len(words) == 4 and words[3] == "json" and _VERSION.fullmatch(words[2]):
        return f"{project}{words[2]}/"
    if words[0] == "simple" and len(words) == 2:
        return project
    return None
