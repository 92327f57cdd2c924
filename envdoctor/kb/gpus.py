"""GPU models and their compute capability, for names read from pasted nvidia-smi output."""

from __future__ import annotations

import functools
import re

from envdoctor.kb import load_topic

# Brand words that nvidia-smi prints inconsistently across driver generations.
_BRAND_WORDS = frozenset({"nvidia", "geforce", "tesla", "quadro"})
_SPLIT = re.compile(r"[\s\-_/,()]+")
_TRUNCATION = "..."


def _words(name: str) -> tuple[str, ...]:
    return tuple(word for word in _SPLIT.split(name.lower()) if word and word not in _BRAND_WORDS)


@functools.cache
def _models() -> tuple[tuple[tuple[str, ...], str], ...]:
    rows = load_topic("gpu_models", "model")
    return tuple((_words(row["model"]), row["compute_capability"]) for row in rows)


def compute_capability_for(name: str) -> str | None:
    """The compute capability of a GPU named as nvidia-smi prints it, or None if not known.

    The longest known model whose words appear in the name, in order and adjacent, wins.
    A name nvidia-smi cut short ("NVIDIA GeForce RTX 30...") is answered only when every
    model it could be agrees.
    """
    stripped = name.strip()
    if stripped.endswith(_TRUNCATION):
        return _truncated(_words(stripped[: -len(_TRUNCATION)]))
    best = _longest_match(_words(stripped))
    return best[1] if best else None


def _longest_match(words: tuple[str, ...]) -> tuple[tuple[str, ...], str] | None:
    best: tuple[tuple[str, ...], str] | None = None
    for model, capability in _models():
        if _contains(words, model) and (best is None or len(model) > len(best[0])):
            best = (model, capability)
    return best


def _contains(words: tuple[str, ...], part: tuple[str, ...]) -> bool:
    size = len(part)
    return size > 0 and any(words[i : i + size] == part for i in range(len(words) - size + 1))


def _truncated(words: tuple[str, ...]) -> str | None:
    if not words:
        return None
    capabilities: set[str] = set()
    best = _longest_match(words[:-1])
    if best:
        capabilities.add(best[1])
    for model, capability in _models():
        model_text = " ".join(model)
        # Some tail of the cut name, starting at a word, may be the start of this model's name.
        if any(model_text.startswith(" ".join(words[start:])) for start in range(len(words))):
            capabilities.add(capability)
    return capabilities.pop() if len(capabilities) == 1 else None
