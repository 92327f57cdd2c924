"""GPU names as nvidia-smi prints them, and the compute capability the knowledge base gives."""

from __future__ import annotations

import pytest

from envdoctor.host.profile import is_compute_capability
from envdoctor.kb import load_topic
from envdoctor.kb.gpus import compute_capability_for


@pytest.mark.parametrize(
    ("name", "capability"),
    [
        # Names as they appear in the recorded pastes under tests/fixtures/hosts.
        ("NVIDIA H200", "9.0"),
        ("NVIDIA H100 80GB HBM3", "9.0"),
        ("NVIDIA A100-SXM4-40GB", "8.0"),
        ("Tesla V100-SXM2-16GB", "7.0"),
        ("Tesla P100-PCIE-16GB", "6.0"),
        ("Tesla T4", "7.5"),
        ("Tesla-T4", "7.5"),
        ("NVIDIA GeForce RTX 3090", "8.6"),
        ("NVIDIA GeForce RTX 2080 Ti", "7.5"),
        ("NVIDIA RTX A5000", "8.6"),
        ("NVIDIA TITAN V", "7.0"),
        ("TITAN Xp", "6.1"),
        ("NVIDIA GeForce RTX 4060 Laptop GPU", "8.9"),
        ("NVIDIA B200", "10.0"),
        ("NVIDIA GeForce RTX 5090", "12.0"),
        ("GeForce GTX 750 Ti", "5.0"),
        # The longest model wins: a Ti is not its base card, an Ada card not its Turing namesake.
        ("NVIDIA GeForce RTX 3090 Ti", "8.6"),
        ("Quadro RTX 6000", "7.5"),
        ("NVIDIA RTX 6000 Ada Generation", "8.9"),
        # Cut short by nvidia-smi: answered only when every candidate agrees.
        ("GeForce GTX 108...", "6.1"),
        ("NVIDIA GeForce RTX 2080 ...", "7.5"),
        ("Tesla V100-SXM2...", "7.0"),
        ("NVIDIA A10...", None),
        ("NVIDIA RTX ...", None),
        # Not in any source the base cites: unknown rather than guessed.
        ("Tesla V100S-PCIE-32GB", None),
        ("NVIDIA A10G", None),
        ("Graphics Device", None),
        ("", None),
    ],
)
def test_compute_capability_for(name: str, capability: str | None) -> None:
    assert compute_capability_for(name) == capability


def test_every_model_row_is_cited_and_its_architecture_known() -> None:
    models = load_topic("gpu_models", "model")
    architectures = {row["compute_capability"] for row in load_topic("gpu_architectures", "architecture")}
    assert len(models) >= 150
    for row in models:
        assert is_compute_capability(row["compute_capability"]), row
        assert row["compute_capability"] in architectures, row
        assert row["source"].startswith("https://"), row
