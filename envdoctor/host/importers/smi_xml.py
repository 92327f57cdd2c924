"""``nvidia-smi -q -x``: the XML report."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from envdoctor.host.importers.common import checked_name, checked_version, clean_value, mig_from_text, whole_number
from envdoctor.host.importers.smi_query import QueryGpu, QueryReport

_START = re.compile(r"<\?xml[^>]*\?>|<nvidia_smi_log\b")
_END = "</nvidia_smi_log>"
_MIB = re.compile(r"(?P<number>[0-9]+)\s*(?:MiB)?")


class NotSmiXml(ValueError):
    """The text holds no well-formed nvidia-smi XML report."""


def looks_like_smi_xml(text: str) -> bool:
    return "<nvidia_smi_log" in text


def parse_smi_xml(text: str) -> QueryReport:
    start = _START.search(text)
    end = text.rfind(_END)
    if start is None or end < 0:
        raise NotSmiXml("no <nvidia_smi_log> element")
    document = text[start.start() : end + len(_END)]
    # nvidia-smi's XML never declares entities; refusing them rules out entity expansion attacks.
    if "<!ENTITY" in document:
        raise NotSmiXml("entity declarations are not allowed")
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        raise NotSmiXml(f"malformed XML: {exc}") from None
    report = QueryReport(
        driver=checked_version(root.findtext("driver_version")) or checked_version(root.findtext("kmd_version")),
        cuda=checked_version(root.findtext("cuda_version")) or checked_version(root.findtext("cuda_umd_version")),
    )
    for gpu in root.findall("gpu"):
        memory = _MIB.fullmatch(clean_value(gpu.findtext("fb_memory_usage/total")) or "")
        report.gpus.append(
            QueryGpu(
                name=checked_name(gpu.findtext("product_name")),
                memory_mib=whole_number(memory.group("number")) if memory else None,
                mig=mig_from_text(gpu.findtext("mig_mode/current_mig")),
            )
        )
    return report
