"""``nvidia-smi -q -x``: the XML report."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from envdoctor.importers.common import clean_value, mig_from_text
from envdoctor.importers.smi_query import QueryGpu, QueryReport

_START = re.compile(r"<\?xml[^>]*\?>|<nvidia_smi_log\b")
_END = "</nvidia_smi_log>"


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
        driver=clean_value(root.findtext("driver_version")) or clean_value(root.findtext("kmd_version")),
        cuda=clean_value(root.findtext("cuda_version")) or clean_value(root.findtext("cuda_umd_version")),
    )
    for gpu in root.findall("gpu"):
        total = clean_value(gpu.findtext("fb_memory_usage/total"))
        memory = re.match(r"(\d+)", total or "")
        report.gpus.append(
            QueryGpu(
                name=clean_value(gpu.findtext("product_name")),
                memory_mib=int(memory.group(1)) if memory else None,
                mig=mig_from_text(gpu.findtext("mig_mode/current_mig")),
            )
        )
    return report
