"""Pieces every importer uses to turn pasted text into a HostProfile.

Pasted text is read with ASCII digits only (``"²".isdigit()`` is true, and ``\\d`` matches it,
but ``int("²")`` fails) and with numbers of at most nine digits, so that no number in a paste is
too long for ``int``. A value that fails its grammar is left unknown rather than guessed.
"""

from __future__ import annotations

import re

from envdoctor.host.profile import (
    GPU_NAME,
    MAX_GPUS,
    SOURCE_FILE,
    SOURCE_KB,
    Gpu,
    is_compute_capability,
    is_dotted_version,
)

_NOT_A_VALUE = frozenset({"", "n/a", "[n/a]", "not supported", "[not supported]", "could not collect", "no cuda"})
_WHOLE_NUMBER = re.compile("[0-9]{1,9}")
# No line of a report envdoctor reads is this long (nvidia-smi's widest CSV header is about 8,000
# characters); longer lines are not read, so that no pattern spends long on one.
MAX_LINE = 16_384


def lines_of(text: str) -> list[str]:
    """The text's lines, without those longer than MAX_LINE."""
    return [line for line in text.splitlines() if len(line) <= MAX_LINE]


def whole_number(text: str | None) -> int | None:
    """``text`` as a number of ASCII digits (at most nine), else None."""
    return int(text) if text is not None and _WHOLE_NUMBER.fullmatch(text) else None


def clean_value(value: str | None) -> str | None:
    """A field's value with nvidia-smi's placeholders and deprecation notes removed."""
    if value is None:
        return None
    value = value.split(" [Deprecated", 1)[0].strip()
    return None if value.lower() in _NOT_A_VALUE else value


def checked_version(value: str | None) -> str | None:
    """A driver or CUDA version as read from a paste, or None if the text is not one."""
    value = clean_value(value)
    return value if value is not None and is_dotted_version(value) else None


def checked_capability(value: str | None) -> str | None:
    value = clean_value(value)
    return value if value is not None and is_compute_capability(value) else None


def checked_name(value: str | None) -> str | None:
    """A GPU name as read from a paste, or None if it is not one line of at most 200 characters."""
    value = clean_value(value)
    return value if value is not None and GPU_NAME.matches(value) else None


def mig_from_text(value: str | None) -> bool | None:
    lowered = (value or "").strip().lower()
    return True if lowered == "enabled" else False if lowered == "disabled" else None


def build_gpus(
    rows: list[tuple[str | None, str | None, int | None, bool | None]],
    sources: dict[str, str],
    reasons: dict[str, str],
) -> tuple[Gpu, ...]:
    """GPUs from (name, compute capability, memory MiB, MIG) rows as read from a paste.

    A compute capability the paste does not show is looked up by name in the knowledge base,
    and ``sources`` records that it came from there. More than MAX_GPUS rows are cut, and
    ``reasons`` says so.
    """
    from envdoctor.kb.gpus import compute_capability_for

    if len(rows) > MAX_GPUS:
        reasons["nvidia.gpus"] = f"the paste lists {len(rows)} GPUs; only the first {MAX_GPUS} are kept"
        rows = rows[:MAX_GPUS]
    gpus = []
    for index, (shown_name, shown_capability, memory, mig) in enumerate(rows):
        name = checked_name(shown_name)
        capability = checked_capability(shown_capability)
        if capability is None and name:
            capability = compute_capability_for(name)
            if capability is not None:
                sources[f"nvidia.gpus[{index}].compute_capability"] = SOURCE_KB
        gpus.append(Gpu(name=name, compute_capability=capability, memory_mib=memory, mig=mig))
    sources["nvidia.gpus"] = SOURCE_FILE
    return tuple(gpus)
