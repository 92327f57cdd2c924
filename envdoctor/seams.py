"""Where envdoctor is extended: each input kind, report format and resolver, by the name the
command line takes, with what implements it as ``"module:attribute"`` (imported only when used).

The command line takes its choices from here without importing any implementation, so that
``--help`` stays fast; adding a kind, a format or a resolver is adding its module and one line
here. (A rule is added the same way, in ``envdoctor.rules``: every rule runs on every audit.)
"""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing: the command line imports this module at start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# A reader adds what one file says to the set being gathered: (path, SourceOptions, found) -> None.
INPUT_KINDS: dict[str, str] = {
    "requirements": "envdoctor.requirements:gather_requirements",
    "pyproject": "envdoctor.requirements:gather_pyproject",
    "pylock": "envdoctor.requirements:gather_pylock",
    "uvlock": "envdoctor.requirements:gather_uvlock",
    "poetrylock": "envdoctor.requirements:gather_poetrylock",
    "dockerfile": "envdoctor.requirements:gather_dockerfile",
    "conda": "envdoctor.requirements:gather_conda",
    "conda-list": "envdoctor.requirements:gather_conda",
    "artifact": "envdoctor.requirements:gather_artifact",
    "k8s": "envdoctor.requirements:gather_k8s",
    "image-inspect": "envdoctor.requirements:gather_image_inspect",
}

# A reporter: (AuditReport, Style, fix outcomes or None) -> text.
REPORT_FORMATS: dict[str, str] = {
    "text": "envdoctor.report.text:render",
    "json": "envdoctor.report.json_report:render",
    "sarif": "envdoctor.report.sarif:render",
    "markdown": "envdoctor.report.markdown:render",
    "github": "envdoctor.report.github:render",
}

# A resolver backend: a class of the ``Backend`` protocol (envdoctor.lock.backends).
RESOLVERS: dict[str, str] = {
    "uv": "envdoctor.lock.backends:UvBackend",
    "pip-tools": "envdoctor.lock.backends:PipToolsBackend",
}


def load(entry: str) -> Any:
    """What a registry entry names, imported now."""
    import importlib

    module, _, attribute = entry.partition(":")
    return getattr(importlib.import_module(module), attribute)
