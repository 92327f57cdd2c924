"""Whole-base checks: every table fits its schema and the topics agree with each other."""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterator

from packaging.version import Version

from envdoctor.kb import COMPILED, COMPILED_DIR, KnowledgeBaseError, Row, compile_sources, compiled_files, source_rows
from envdoctor.kb.schema import TOPICS

# Tables whose key must name one row only.
UNIQUE_KEYS = {
    ("cuda", "release"): ("cuda",),
    ("cuda", "minor_compat"): ("cuda_major",),
    ("gpu_architectures", "architecture"): ("compute_capability",),
    ("gpu_models", "model"): ("model",),
    ("torch", "release"): ("torch",),
    ("torch", "pypi_build"): ("torch",),
    ("torch", "cuda_arch"): ("torch", "variant"),
    ("tensorflow", "tested"): ("tensorflow", "platform", "cuda"),
    ("tensorflow", "wheel"): ("tensorflow",),
    ("jax", "release"): ("jax",),
    ("base_images", "image"): ("repository", "tag"),
}


def cuda_of_variant(variant: str) -> str | None:
    """The CUDA major.minor a build variant names: cu121 -> 12.1, cu118 -> 11.8, cpu -> None."""
    digits = variant[2:] if variant.startswith("cu") else ""
    return f"{int(digits[:-1])}.{digits[-1]}" if digits.isdigit() and len(digits) >= 2 else None


def major_minor(version: str) -> str:
    release = Version(version).release
    return f"{release[0]}.{release[1] if len(release) > 1 else 0}"


def problems(today: datetime.date | None = None) -> list[str]:
    """Everything wrong with the base; empty when it is sound."""
    found: list[str] = []
    rows: dict[tuple[str, str], tuple[Row, ...]] = {}
    for topic in TOPICS:
        for table in topic.tables:
            try:
                rows[(topic.name, table.name)] = source_rows(topic.name, table.name)
            except KnowledgeBaseError as exc:
                found.append(str(exc))
                rows[(topic.name, table.name)] = ()
    compiled = compiled_files()
    if compiled and compiled != compile_sources():
        found.append(f"{COMPILED} and {COMPILED_DIR}/ no longer match the TOML files: run ci/kb-compile")
    found += _duplicates(rows)
    found += _dates(rows, today or datetime.date.today())
    found += list(_cross_topic(rows))
    return found


def _duplicates(rows: dict[tuple[str, str], tuple[Row, ...]]) -> list[str]:
    found = []
    for (topic, table), fields in UNIQUE_KEYS.items():
        counts = Counter(tuple(str(row.get(name)) for name in fields) for row in rows[(topic, table)])
        found += [f"{topic}.toml: [[{table}]] {'/'.join(key)} appears {n} times" for key, n in counts.items() if n > 1]
    return found


def _dates(rows: dict[tuple[str, str], tuple[Row, ...]], today: datetime.date) -> list[str]:
    return [
        f"{topic}.toml: [[{table}]] row {number} was checked in the future ({row['checked']})"
        for (topic, table), table_rows in rows.items()
        for number, row in enumerate(table_rows, start=1)
        if datetime.date.fromisoformat(str(row["checked"])) > today
    ]


def _cross_topic(rows: dict[tuple[str, str], tuple[Row, ...]]) -> Iterator[str]:
    capabilities = {row["compute_capability"] for row in rows[("gpu_architectures", "architecture")]}
    cuda_minors = {major_minor(row["cuda"]) for row in rows[("cuda", "release")]}
    cuda_releases = {row["cuda"] for row in rows[("cuda", "release")]}
    compat_majors = {row["cuda_major"] for row in rows[("cuda", "minor_compat")]}

    for row in rows[("gpu_models", "model")]:
        if row["compute_capability"] not in capabilities:
            yield f"gpu_models.toml: {row['model']} has compute capability {row['compute_capability']}, no architecture"
    for row in rows[("torch", "cuda_arch")]:
        for capability in [*row["sm"], *row["ptx"]]:
            if capability not in capabilities:
                yield f"torch.toml: cuda_arch {row['torch']} {row['variant']} names {capability}, no architecture"
    for row in rows[("torch", "release")]:
        for variant in row["variants"]:
            cuda = cuda_of_variant(variant)
            if cuda is not None and cuda not in cuda_minors:
                yield f"torch.toml: torch {row['torch']} names {variant}, but cuda.toml has no CUDA {cuda} release"
    for row in rows[("torch", "pypi_build")]:
        if major_minor(row["cuda"]) not in cuda_minors:
            yield f"torch.toml: torch {row['torch']} on PyPI is built for CUDA {row['cuda']}, not in cuda.toml"
    for row in rows[("tensorflow", "tested")]:
        if "cuda" in row and major_minor(row["cuda"]) not in cuda_minors:
            yield f"tensorflow.toml: tensorflow {row['tensorflow']} tested with CUDA {row['cuda']}, not in cuda.toml"
    for row in rows[("base_images", "image")]:
        if "cuda" in row and row["cuda"] not in cuda_releases:
            yield f"base_images.toml: {row['tag']} carries CUDA {row['cuda']}, not a release in cuda.toml"
    for cuda in cuda_releases:
        major = Version(cuda).major
        if major >= 11 and major not in compat_majors:
            yield f"cuda.toml: CUDA {cuda} has no minor_compat row for CUDA {major}"
