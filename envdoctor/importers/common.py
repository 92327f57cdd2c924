"""Pieces every importer uses to turn pasted text into a HostProfile."""

from __future__ import annotations

from envdoctor.host.profile import SOURCE_FILE, SOURCE_KB, Gpu, is_compute_capability, is_dotted_version

_NOT_A_VALUE = frozenset({"", "n/a", "[n/a]", "not supported", "[not supported]", "could not collect", "no cuda"})


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


def mig_from_text(value: str | None) -> bool | None:
    lowered = (value or "").strip().lower()
    return True if lowered == "enabled" else False if lowered == "disabled" else None


def build_gpus(
    rows: list[tuple[str | None, str | None, int | None, bool | None]], sources: dict[str, str]
) -> tuple[Gpu, ...]:
    """GPUs from (name, compute capability, memory MiB, MIG) rows as read from a paste.

    A compute capability the paste does not show is looked up by name in the knowledge base,
    and ``sources`` records that it came from there.
    """
    from envdoctor.kb.gpus import compute_capability_for

    gpus = []
    for index, (name, shown_capability, memory, mig) in enumerate(rows):
        capability = checked_capability(shown_capability)
        if capability is None and name:
            capability = compute_capability_for(name)
            if capability is not None:
                sources[f"nvidia.gpus[{index}].compute_capability"] = SOURCE_KB
        gpus.append(Gpu(name=name, compute_capability=capability, memory_mib=memory, mig=mig))
    sources["nvidia.gpus"] = SOURCE_FILE
    return tuple(gpus)
