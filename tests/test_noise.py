"""Noise is a defect (issue 12, part 7): "not pinned" is one finding per file, naming what is
loose, and none for the input of a lock; one ignore comment still silences its own line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envdoctor.cli import main

LINUX = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]


def findings(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    code = main(["audit", *argv, *LINUX, "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    found: list[dict[str, object]] = json.loads(out)["findings"]
    return found


def with_code(found: list[dict[str, object]], code: str) -> list[dict[str, object]]:
    return [finding for finding in found if finding["code"] == code]


# The first 12 lines of vllm-project/vllm requirements/common.txt (the copy the search tool stores):
# names and ranges, one per line, as projects write them.
VLLM_COMMON = """\
regex # Replace re for higher-performance regex matching
cachetools
psutil
sentencepiece  # Required for LLaMA tokenizer.
numpy
requests >= 2.26.0
tqdm
blake3
py-cpuinfo
transformers >= 4.56.0, < 5
tokenizers >= 0.21.1  # Required for fast incremental detokenization.
protobuf >= 6.33.5 # Required by LlamaTokenizer, gRPC. CVE-2026-0994
"""


def test_loose_requirements_are_one_finding_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "common.txt").write_text(VLLM_COMMON)
    (tmp_path / "requirements.txt").write_text("-r common.txt\ntorch==2.8.0\nxformers\n")
    loose = with_code(findings(capsys, str(tmp_path / "requirements.txt")), "ED401")
    by_file = {Path(str(finding["location"]["path"])).name: finding for finding in loose}  # type: ignore[index]
    assert sorted(by_file) == ["common.txt", "requirements.txt"]
    common = by_file["common.txt"]
    assert len(common["packages"]) == 12  # type: ignore[arg-type]
    assert "12 requirements in " in str(common["message"]) and "and 6 more" in str(common["message"])
    assert common["location"]["line"] == 1  # type: ignore[index]
    assert by_file["requirements.txt"]["message"] == "xformers is not pinned: each install can pick another version"


def test_the_input_of_a_lock_is_not_told_to_pin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.in").write_text("numpy<2\ntorch>=2.2\nsix==1.16.0\n")
    found = findings(capsys, str(tmp_path / "requirements.in"))
    assert not with_code(found, "ED401") and not with_code(found, "ED402")


def test_an_ignore_comment_takes_its_line_out_of_the_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\ntqdm  # envdoctor: ignore[ED401]\nregex\n")
    (finding,) = with_code(findings(capsys, str(tmp_path / "requirements.txt")), "ED401")
    assert finding["packages"] == ["numpy", "regex"]


def test_one_finding_whatever_the_number_of_hosts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\nregex\n")
    hosts = []
    for name, driver in (("a.json", "535.104.05"), ("b.json", "470.82.01")):
        profile = {"schema": "envdoctor.host/1", "os": "linux", "nvidia": {"driver": driver}}
        (tmp_path / name).write_text(json.dumps(profile))
        hosts += ["--host", str(tmp_path / name)]
    code = main(["audit", str(tmp_path / "requirements.txt"), *hosts, "--format", "json"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert len(with_code(json.loads(out)["findings"], "ED401")) == 1


def test_image_bloat_of_one_kind_is_one_finding_naming_its_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The shape of facebookresearch/detectron2's docker/Dockerfile (tests/fixtures/projects/detectron2):
    # several pip installs without --no-cache-dir, one apt line with two compilers.
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim@sha256:" + "a" * 64 + "\n"
        "RUN apt-get update && apt-get install -y gcc g++ && rm -rf /var/lib/apt/lists/*\n"
        "RUN pip install requests==2.31.0\nRUN pip install six==1.16.0\nRUN pip install idna==3.6\n"
    )
    bloat = with_code(findings(capsys, str(tmp_path / "Dockerfile")), "ED502")
    messages = sorted(str(f["message"]) for f in bloat)
    assert len(bloat) == 2, messages
    assert any("gcc, g++ with apt" in m for m in messages)
    assert any("(also at lines 4, 5)" in m for m in messages)


def test_a_cuda_base_flavour_image_is_not_cuda_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The -base- flavour carries the CUDA runtime alone (base_images rows: flavor = "base").
    (tmp_path / "Dockerfile").write_text("FROM nvidia/cuda:12.1.0-base-ubuntu22.04\nRUN pip install torch==2.2.0\n")
    assert with_code(findings(capsys, str(tmp_path / "Dockerfile")), "ED501") == []
    (tmp_path / "Dockerfile").write_text("FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\nRUN pip install torch==2.2.0\n")
    assert len(with_code(findings(capsys, str(tmp_path / "Dockerfile")), "ED501")) == 1
