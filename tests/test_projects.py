"""Real public ML projects' files (tests/fixtures/projects/, with their provenance) audited against
five host profiles: the audit reads every one (never exit 2 or 3), says the same thing twice, and
never repeats a finding. What the findings say is read by benchmarks/projects.py, not asserted here:
the rules are allowed to change their minds, not to crash or to wobble."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from envdoctor.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "projects"


def _harness() -> ModuleType:
    """benchmarks/projects.py, which runs one audit the way this test wants it run."""
    name = "envdoctor_projects_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "projects.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


HARNESS = _harness()
PROJECTS = HARNESS.load_projects()
HOSTS = HARNESS.host_files()
PAIRS = [pytest.param(project, host, id=f"{project.name}-{host.stem}") for project in PROJECTS for host in HOSTS]


def test_at_least_ten_projects_and_five_hosts_each_with_provenance() -> None:
    assert len(PROJECTS) >= 10
    assert [host.stem for host in HOSTS] == [
        "a100-driver535",
        "laptop-cpu",
        "mac-arm64",
        "rtx5090-driver570",
        "v100-driver470",
    ]
    for project in PROJECTS:
        folder = FIXTURES / project.name
        provenance = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
        assert re.search(r"Commit: `[0-9a-f]{40}`", provenance), project.name
        assert "Licence of the repository:" in provenance, project.name
        for name in project.files:
            assert (folder / name).is_file(), f"{project.name}: {name}"
            assert f"`{name}`" in provenance, f"{project.name}: {name} has no provenance row"


@pytest.mark.parametrize(("project", "host"), PAIRS)
def test_audit_reads_the_project_says_it_twice_the_same_and_repeats_nothing(project: Any, host: Path) -> None:
    first = HARNESS.audit(project, host)
    assert first.exit_code in (0, 1), f"exit {first.exit_code}: {first.stderr.strip()}"
    assert first.report is not None and first.report.get("schema") == "envdoctor.audit/1"
    if host == HOSTS[0]:  # a second run per project: the same bytes (every host would only cost time)
        second = HARNESS.audit(project, host)
        assert (second.exit_code, second.stdout, second.stderr) == (first.exit_code, first.stdout, first.stderr)
    seen: set[str] = set()
    for finding in first.findings:
        key = json.dumps([finding.get("code"), finding.get("message"), finding.get("location")], sort_keys=True)
        assert key not in seen, f"repeated finding: {key}"
        seen.add(key)


def test_the_audit_prints_the_same_bytes_whatever_the_hash_seed() -> None:
    """Two processes with different string hashing (set and dict orders of str differ): any order
    the audit takes from a set shows up here, where two runs in one process cannot see it."""
    # The projects with the most findings, on the hosts that give the most: a whole benchmark run
    # twice would take minutes on a busy machine.
    chosen = [p for p in PROJECTS if p.name in ("coqui-tts", "generative-models", "keras-hub")]
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import projects as p\n"
        "for project in p.load_projects():\n"
        "    if project.name in sys.argv[2:]:\n"
        "        for host in p.host_files():\n"
        "            print(p.audit(project, host).stdout)\n"
    )
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        argv = [sys.executable, "-c", script, str(ROOT / "benchmarks"), *(p.name for p in chosen)]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count('"schema": "envdoctor.audit/1"') == len(chosen) * len(HOSTS)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]


def _kb_rows(topic: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    """``envdoctor kb show TOPIC``'s rows as field → value (the fields before any list value)."""
    assert main(["kb", "show", topic]) == 0
    rows = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith(f"{topic}.") and ": " in line:
            fields = line.split(": ", 1)[1]
            rows.append(dict(re.findall(r"(\w+)=([^,\[\]]+?)(?=, \w+=|$)", fields)))
    return rows


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_host_profiles_agree_with_the_knowledge_base(capsys: pytest.CaptureFixture[str]) -> None:
    """Each GPU's compute capability is its gpu_models row; each driver's CUDA is the newest
    cuda.release row whose Linux driver floor the driver meets (as nvidia-smi would report it)."""
    models = {row["model"]: row["compute_capability"] for row in _kb_rows("gpu_models", capsys) if "model" in row}
    releases = [row for row in _kb_rows("cuda", capsys) if "linux_driver" in row and "cuda" in row]
    for path in HOSTS:
        profile = json.loads(path.read_text(encoding="utf-8"))
        nvidia = profile["nvidia"]
        if nvidia is None:
            continue
        met = [row["cuda"] for row in releases if _version(row["linux_driver"]) <= _version(nvidia["driver"])]
        newest = max(met, key=_version)
        assert nvidia["cuda"] == ".".join(newest.split(".")[:2]), path.name
        for gpu in nvidia["gpus"]:
            named = [model for model in models if re.search(rf"\b{re.escape(model)}\b", gpu["name"])]
            assert named, f"{path.name}: {gpu['name']} is in no gpu_models row"
            assert gpu["compute_capability"] == models[max(named, key=len)], path.name
