"""The Dockerfile reader on Dockerfiles as real projects write them (issue 13, part 3).

Every real Dockerfile of tests/fixtures/dockerfiles/ (see its PROVENANCE.md) is audited against one
host and must never exit 2 or 3; several are checked for what the audit must find in them. The
behaviours are tested through ``envdoctor audit`` on short Dockerfiles built from lines of those
files (named in each test) or of the issue: a variable without a value, process substitution,
heredocs, the ``=`` form of an index option, an index carried to a ``-r`` file, ``-e .`` and
``.[extra]``, ``uv sync``, conda, multi-stage builds, ``sh -c`` and the exec form.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main
from envdoctor.requirements import SourceOptions, load_requirement_set
from envdoctor.requirements.dockerfile import instructions, parse_dockerfile

CORPUS = Path(__file__).parent / "fixtures" / "dockerfiles"
REAL = sorted(path.name for path in CORPUS.iterdir() if (path / "Dockerfile").is_file())
HOST = ("--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "535.104.05", "--gpu", "8.0")
# A driver of the CUDA 11.4 era: a CUDA 12.1 build of torch needs a newer one (ED101).
OLD_DRIVER = ("--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "470.57.02", "--gpu", "8.0")
CU121 = "https://download.pytorch.org/whl/cu121"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside any git work tree, the current one: it is the project and the build context."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def audit(capsys: pytest.CaptureFixture[str], path: str = "Dockerfile", host: tuple[str, ...] = HOST) -> dict[str, Any]:
    code = main(["audit", path, *host, "--format", "json"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert err == ""
    report: dict[str, Any] = json.loads(out)
    return report


def found(report: dict[str, Any], code: str) -> list[tuple[str, int | None, str]]:
    """(file, line, message) of every finding of ``code``."""
    return [
        (Path(f["location"]["path"]).name, f["location"]["line"], f["message"])
        for f in report["findings"]
        if f["code"] == code and f.get("location")
    ]


def not_judged(report: dict[str, Any]) -> list[tuple[int | None, str]]:
    return [(line, message) for _, line, message in found(report, "ED900") if message.startswith("not read:")]


def corpus(name: str, into: Path) -> Path:
    """A real Dockerfile's folder, copied out of this checkout: its build context is its own folder."""
    shutil.copytree(CORPUS / name, into / name)
    return into / name


# -- the corpus -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REAL)
def test_no_real_dockerfile_stops_the_audit(name: str, here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus(name, here)
    report = audit(capsys, f"{name}/Dockerfile")
    assert report["inputs"][0] == {"path": f"{name}/Dockerfile", "kind": "dockerfile"}
    # What was not read is said once per command, never as an error.
    assert all(f["severity"] == "info" for f in report["findings"] if f["message"].startswith("not read:"))


def test_the_corpus_is_forty_real_dockerfiles_or_more_and_the_figures_hold() -> None:
    spec = importlib.util.spec_from_file_location("dockerfiles", CORPUS.parents[2] / "benchmarks" / "dockerfiles.py")
    assert spec is not None and spec.loader is not None
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    figures = benchmark.report([benchmark.audit(folder) for folder in benchmark.folders()])
    assert figures["dockerfiles"] >= 40
    assert figures["defects"] == []
    assert set(figures["exits"]) <= {0, 1}
    # Most install commands are read whole; each one that is not gives its reasons.
    assert figures["commands_followed"] >= 200
    assert figures["commands_read_whole"] > 2 * figures["commands_with_unread_parts"]
    assert {"pip install", "uv pip install", "uv sync", "conda install"} <= set(figures["by_command"])


# -- what cannot be read is one note, and the audit goes on --------------------------------------


def test_an_arg_without_a_default_is_one_note_and_the_rest_is_read(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The line: `RUN pip install --no-cache-dir "$VERSION"` stopped the audit with exit 2.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\nARG VERSION\n"
            f'RUN pip install --no-cache-dir "$VERSION" torch==2.2.0+cu121 --extra-index-url {CU121}\n'
        },
    )
    report = audit(capsys, host=OLD_DRIVER)
    ((line, message),) = not_judged(report)
    assert line == 3
    assert "$VERSION has no value" in message and "--build-arg" in message
    assert [(name, line) for name, line, _ in found(report, "ED101")] == [("Dockerfile", 3)]


def test_process_substitution_in_the_exec_form_is_one_note(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The issue's: `pip install -r <(cat a.txt b.txt)` inside a JSON-form RUN.
    write(
        here,
        {"Dockerfile": 'FROM python:3.11-slim\nRUN ["bash", "-c", "pip install -r <(cat a.txt b.txt) six==1.16.0"]\n'},
    )
    report = audit(capsys)
    ((line, message),) = not_judged(report)
    assert line == 2 and "a process substitution <(cat a.txt b.txt)" in message
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [r.name for r in read.requirements] == ["six"]


def test_a_command_substitution_a_pipe_and_the_base_images_variables_are_notes(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # nerfstudio's `pip install git+...@$(sed ...)`, nemo's `xargs`, alphafold's `cuda=${CUDA_VERSION}`.
    write(
        here,
        {
            "Dockerfile": "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\n"
            "RUN pip install --no-cache-dir numpy==1.26.4 "
            "git+https://github.com/nerfstudio-project/gsplat.git@v$(sed -n 1p v.txt)\n"
            "RUN cat extra.txt | xargs pip install\n"
            "RUN pip install jax[cuda]==${JAX_VERSION}\n"
        },
    )
    report = audit(capsys)
    notes = dict(not_judged(report))
    assert "a command substitution" in notes[2]
    assert "xargs" in notes[3]
    assert "$JAX_VERSION is not set in the Dockerfile (it may come from the base image)" in notes[4]


def test_text_that_is_not_a_dockerfile_is_still_refused(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text, message in (
        ("torch==2.2.0\nnumpy\n", "Dockerfile:1: not a Dockerfile instruction"),
        ("FROM python:3.11\nRUN <<EOF\npip install six\n", "Dockerfile:2: unterminated heredoc"),
        ('FROM python:3.11\nRUN ["pip", 1]\n', "Dockerfile:2: when using JSON array syntax"),
    ):
        write(here, {"Dockerfile": text})
        assert main(["audit", "Dockerfile", *HOST]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


# -- index options --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        f"pip install --extra-index-url={CU121} torch==2.2.0+cu121",  # the issue's `=` form
        f"pip install --extra-index-url {CU121} torch==2.2.0+cu121",
        f"pip3.11 install -i {CU121} torch==2.2.0+cu121",
        f"python3 -m pip install --extra-index {CU121} torch==2.2.0+cu121",  # pip takes an option's prefix
        f"/opt/venv/bin/pip --no-cache-dir install --index-url={CU121} torch==2.2.0+cu121",
        "uv pip install --system --torch-backend=cu121 torch==2.2.0",
    ],
)
def test_every_form_of_an_index_option_gives_the_build(
    command: str, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(here, {"Dockerfile": f"FROM python:3.11-slim\nRUN {command}\n"})
    report = audit(capsys, host=OLD_DRIVER)
    assert not found(report, "ED406")
    ((path, line, message),) = found(report, "ED101")
    assert (path, line) == ("Dockerfile", 2) and "cu121 build" in message


def test_the_commands_index_is_carried_to_its_requirements_file(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The issue's `pip install --index-url URL -r reqs.txt`: the file names no index of its own.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\nWORKDIR /app\nCOPY reqs.txt .\n"
            f"RUN pip install --index-url {CU121} -r reqs.txt\n",
            "reqs.txt": "torch==2.2.0+cu121\ntorchvision==0.17.0+cu121\n",
        },
    )
    report = audit(capsys, host=OLD_DRIVER)
    assert not found(report, "ED406")
    assert ("reqs.txt", 1) in [(path, line) for path, line, _ in found(report, "ED101")]
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert {(r.name, r.variant) for r in read.requirements} == {("torch", "cu121"), ("torchvision", "cu121")}
    assert {"path": "reqs.txt", "kind": "requirements"} in report["inputs"]


def test_short_and_combined_options_constraints_and_pip_wheel(here: Path) -> None:
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\nCOPY reqs.txt constraints.txt /src/\nWORKDIR /src\n"
            "RUN pip install -Ur reqs.txt -cconstraints.txt --no-deps\n"
            "RUN pip wheel --no-deps -w /wheels -r /src/reqs.txt\n",
            "reqs.txt": "six==1.16.0\n",
            "constraints.txt": "idna==3.6\n",
        },
    )
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(r.name, r.constraint) for r in read.requirements] == [("six", False), ("idna", True)]
    assert [(i.path, i.kind) for i in read.inputs] == [("reqs.txt", "requirements"), ("constraints.txt", "constraints")]
    assert [f.command for f in read.followed] == ["pip install", "pip wheel"]


def test_a_requirements_file_sees_the_runs_variables_as_pip_does(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pip expands ${VAR} in a requirements file from its environment: the RUN's ARGs and ENVs.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\nARG SIX=1.16.0\nCOPY r.txt .\nRUN pip install -r r.txt\n",
            "r.txt": "six==${SIX}\nidna==${NOT_SET}\n",
        },
    )
    report = audit(capsys)
    assert [(path, line) for path, line, _ in found(report, "ED900")] == [("r.txt", 2)]
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(r.name, str(r.specifier)) for r in read.requirements] == [("six", "==1.16.0")]


def test_an_index_from_env_or_pip_config_applies_to_later_installs(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # llama-factory's `pip config set global.index-url`, and the PIP_EXTRA_INDEX_URL many images set.
    for setting in (f"ENV PIP_EXTRA_INDEX_URL={CU121}", f'RUN pip config set global.extra-index-url "{CU121}"'):
        write(here, {"Dockerfile": f"FROM python:3.11-slim\n{setting}\nRUN pip install torch==2.2.0+cu121\n"})
        report = audit(capsys, host=OLD_DRIVER)
        assert not found(report, "ED406"), setting
        assert [line for _, line, _ in found(report, "ED101")] == [3], setting


def test_an_extra_index_does_not_make_other_packages_pytorch_builds(here: Path) -> None:
    # diffusers-onnxruntime-cuda: onnxruntime-gpu comes from PyPI although the command adds the cu117 index.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.10\nRUN pip install torch==1.13.1 onnxruntime-gpu --extra-index-url https://download.pytorch.org/whl/cu117\n"
        },
    )
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(r.name, r.variant) for r in read.requirements] == [("torch", "cu117"), ("onnxruntime-gpu", None)]


# -- heredocs, continuations, chains --------------------------------------------------------------


def test_heredocs_are_read_as_buildkit_runs_them(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The forms of nemo-rl's and verl's Dockerfiles: a script, <<- with tabs, a quoted delimiter
    # given to bash, two heredocs in one RUN.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\n"
            "RUN <<EOF\nset -e\npip install six==1.16.0\n"
            f"pip install --extra-index-url {CU121} torch==2.2.0+cu121\nEOF\n"
            "RUN <<-EOF\n\tpip install idna==3.6\n\tEOF\n"
            'RUN <<"EOT" bash -exu -o pipefail\npip install certifi==2024.2.2\nEOT\n'
            "RUN cat <<A > /tmp/note && bash <<B\nnot a command\nA\npip install urllib3==2.2.1\nB\n"
        },
    )
    report = audit(capsys, host=OLD_DRIVER)
    assert [line for _, line, _ in found(report, "ED101")] == [5]
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(r.name, r.location.line) for r in read.requirements] == [
        ("six", 4),
        ("torch", 5),
        ("idna", 8),
        ("certifi", 11),
        ("urllib3", 16),
    ]


def test_a_file_written_by_a_heredoc_is_said_not_read(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\nCOPY <<EOF /app/requirements.txt\ntorch==2.2.0\nEOF\n"
            "RUN pip install -r /app/requirements.txt\n"
        },
    )
    ((line, message),) = not_judged(audit(capsys))
    assert line == 5 and "written by a heredoc" in message


def test_each_requirement_of_a_continued_run_has_its_own_line(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The shape of accelerate-gpu's install: one package a line, comments between them.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\n"
            "RUN apt-get update && \\\n"
            "    pip install --no-cache-dir \\\n"
            "    # the CUDA build\n"
            f"    torch==2.2.0+cu121 --extra-index-url {CU121} \\\n"
            "    six==1.16.0\n"
        },
    )
    report = audit(capsys, host=OLD_DRIVER)
    assert [line for _, line, _ in found(report, "ED101")] == [5]


def test_chains_subshells_sh_c_and_wrappers_are_followed(here: Path) -> None:
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\n"
            "RUN apt-get update && pip install a==1 || echo failed; (cd /tmp && pip3 install b==2)\n"
            "RUN pip install c==3 || pip install not-run==9\n"
            "RUN sh -c 'pip install d==4 && sudo -H python3 -m pip install e==5'\n"
            'RUN ["/bin/bash", "-lc", "conda run -n base --no-capture-output pip install f==6"]\n'
            'RUN ["pip", "install", "g==7"]\n'
            "RUN for p in h==8 i==9; do pip install $p; done\n"
        },
    )
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(r.name, r.location.line) for r in read.requirements] == [
        ("a", 2), ("b", 2), ("c", 3), ("d", 4), ("e", 4), ("f", 5), ("g", 6), ("h", 7), ("i", 7),
    ]  # fmt: skip


def test_a_branch_a_test_decides_is_a_note_and_a_known_test_is_taken(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # MONAI's `if [[ $(uname -m) =~ "aarch64" ]]; then ... pip install numcodecs; fi`, and the
    # transformers image's `[ ${#TENSORFLOW} -gt 0 ] && VERSION=... || VERSION='tensorflow'`.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\nARG TENSORFLOW=''\nCOPY requirements.txt .\n"
            'RUN if [[ $(uname -m) =~ "aarch64" ]]; then pip install numcodecs; fi\n'
            "RUN [ ${#TENSORFLOW} -gt 0 ] && VERSION='tensorflow=='$TENSORFLOW'.*' ||  VERSION='tensorflow'; "
            "python3 -m pip install --no-cache-dir -U $VERSION\n"
            "RUN if [ -f requirements.txt ]; then pip install -r requirements.txt; fi\n",
            "requirements.txt": "six==1.16.0\n",
        },
    )
    report = audit(capsys)
    ((line, message),) = not_judged(report)
    assert line == 4 and "a test the build decides" in message
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(r.name, str(r.specifier)) for r in read.requirements] == [("tensorflow", ""), ("six", "==1.16.0")]


# -- ARG, ENV and stages --------------------------------------------------------------------------


def test_args_before_from_and_their_redeclaration(here: Path) -> None:
    write(
        here,
        {
            "Dockerfile": "ARG TORCH=2.2.0\nARG CUDA=12.1\nFROM python:3.11-slim AS one\nARG TORCH\n"
            "RUN pip install torch==${TORCH} --index-url https://download.pytorch.org/whl/cu${CUDA//./}\n"
            "FROM one\nARG TORCH=2.1.0\nARG CUDA\nARG JAX\nARG SIX\nENV NUMPY=1.26.4\n"
            "RUN pip install torch==$TORCH numpy==${NUMPY:-2.0.0} jax==${JAX:-0.4.30} six${SIX:+==1.16.0} "
            "--extra-index-url https://download.pytorch.org/whl/cu${CUDA//./}\n"
            "RUN pip install idna==${IDNA:-3.6}\n"
        },
    )
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    # A stage sees an ARG before FROM only where it declares it again (TORCH in one, CUDA in the
    # second); an ARG declared without a default takes ${VAR:-default}'s default; a name set
    # nowhere may be the base image's: not read.
    assert [(r.name, str(r.specifier), r.variant, r.location.line) for r in read.requirements] == [
        ("torch", "==2.1.0", "cu121", 12),
        ("numpy", "==1.26.4", None, 12),
        ("jax", "==0.4.30", None, 12),
        ("six", "", None, 12),
    ]
    assert [(location.line, why.split("': ", 1)[1]) for why, location in read.unread] == [
        (5, "'https://download.pytorch.org/whl/cu${CUD...': $CUDA is an ARG before the first FROM that this stage "
         "does not declare: its value here is the base image's, if any"),
        (13, "'idna==${IDNA:-3.6}': $IDNA is not set in the Dockerfile (it may come from the base image)"),
    ]  # fmt: skip


def test_only_the_stages_the_final_one_is_made_of_are_judged(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The shape of lmdeploy's and torchserve's images: a builder stage whose venv the final stage copies,
    # and a test stage the final one does not use.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11 AS builder\n"
            f"RUN python -m venv /opt/venv && /opt/venv/bin/pip install torch==2.2.0+cu121 --extra-index-url {CU121}\n"
            "FROM builder AS test\n"
            "RUN pip install torch==1.13.1\n"
            "FROM python:3.11-slim AS final\n"
            "COPY --from=builder /opt/venv /opt/venv\n"
            "RUN pip install six==1.16.0\n"
        },
    )
    report = audit(capsys, host=OLD_DRIVER)
    assert [line for _, line, _ in found(report, "ED101")] == [2]
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [r.name for r in read.requirements] == ["torch", "six"]
    assert [(i.stage, i.final) for i in read.images] == [("builder", False), ("test", False), ("final", True)]


def test_a_later_install_of_another_version_replaces_the_earlier(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The transformers deepspeed image uninstalls the base image's torch, then installs its own.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.11-slim\nRUN pip install torch==2.2.0 torchvision==0.17.0\n"
            "RUN pip uninstall -y torchvision\nRUN pip install torch==2.1.0\n"
        },
    )
    report = audit(capsys)
    assert not found(report, "ED204")
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(r.name, str(r.specifier)) for r in read.requirements] == [("torch", "==2.1.0")]


# -- projects: -e ., .[extra], uv sync, conda ------------------------------------------------------

PYPROJECT = """[project]
name = "demo"
version = "0.1"
dependencies = ["six==1.16.0"]

[project.optional-dependencies]
gpu = ["torch==2.2.0+cu121"]

[dependency-groups]
dev = ["idna==3.6"]
"""


@pytest.mark.parametrize(
    "lines",
    [
        "WORKDIR /app\nCOPY . .\nRUN pip install -e .[gpu]",
        "COPY pyproject.toml /src/demo/\nRUN pip install '/src/demo[gpu]'",
        "WORKDIR /work\nCOPY . ./demo\nRUN pip install ./demo[gpu]",
        "COPY . /app\nRUN cd /app && python3 -m pip install --no-cache-dir '.[gpu]'",
    ],
)
def test_a_local_project_is_its_pyproject_with_the_extras_asked(
    lines: str, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(here, {"Dockerfile": f"FROM python:3.11-slim\n{lines}\n", "pyproject.toml": PYPROJECT})
    report = audit(capsys, host=OLD_DRIVER)
    assert [(path, line) for path, line, _ in found(report, "ED101")] == [("pyproject.toml", 7)]
    assert {"path": "pyproject.toml", "kind": "pyproject"} in report["inputs"]


def test_a_project_whose_dependencies_are_in_setup_py_is_a_note(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(
        here, {"Dockerfile": "FROM python:3.11-slim\nCOPY . /app\nRUN pip install -e /app\n", "setup.py": "setup()\n"}
    )
    ((line, message),) = not_judged(audit(capsys))
    assert line == 3 and "setup.py" in message


def test_uv_sync_reads_the_project_with_its_extras_and_groups(here: Path) -> None:
    # invokeai's: `--mount=type=bind,source=pyproject.toml,target=pyproject.toml ... uv sync --extra $GPU_DRIVER`.
    write(
        here,
        {
            "Dockerfile": "FROM python:3.12-slim\nARG GPU_DRIVER=gpu\nWORKDIR /opt/app\n"
            "RUN --mount=type=bind,source=pyproject.toml,target=pyproject.toml uv sync --extra $GPU_DRIVER --no-dev\n"
            "RUN --mount=type=bind,source=pyproject.toml,target=pyproject.toml uv sync --group dev\n",
            "pyproject.toml": PYPROJECT,
        },
    )
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(r.name, r.location.line) for r in read.requirements] == [("six", 4), ("torch", 7), ("idna", 10)]
    assert [f.command for f in read.followed] == ["uv sync", "uv sync"]


def test_uv_sync_beside_a_uv_lock_installs_the_lock(here: Path) -> None:
    # h2o-llmstudio's real project: `uv sync --frozen` with pyproject.toml and uv.lock bind-mounted.
    folder = corpus("h2o-llmstudio", here)
    read = parse_dockerfile((folder / "Dockerfile").read_text(), "h2o-llmstudio/Dockerfile")
    assert ("h2o-llmstudio/uv.lock", "uvlock") in [(i.path, i.kind) for i in read.inputs]
    torch = next(r for r in read.requirements if r.name == "torch")
    assert (str(torch.specifier), torch.variant, torch.location.path) == (
        "==2.8.0+cu126",
        "cu126",
        "h2o-llmstudio/uv.lock",
    )


def test_conda_installs_are_read_with_the_conda_reader(here: Path) -> None:
    # colossalai's `conda install -y -c conda-forge`, pytorch's documented `pytorch-cuda=11.8`.
    write(
        here,
        {
            "Dockerfile": "FROM continuumio/miniconda3\n"
            "RUN conda install -y -c pytorch -c nvidia pytorch=2.1.0 pytorch-cuda=11.8\n"
        },
    )
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    torch = next(r for r in read.requirements if r.name == "torch")
    assert (torch.variant, torch.location.line) == ("cu118", 2)
    assert [f.command for f in read.followed] == ["conda install"]


def test_an_environment_file_a_conda_command_installs_is_read(here: Path) -> None:
    # openfold's `mamba env update -n base --file /opt/openfold/environment.yml`, micromamba's `-f`.
    write(
        here,
        {
            "Dockerfile": "FROM mambaorg/micromamba:1.5\nCOPY environment.yml /opt/app/environment.yml\n"
            "RUN micromamba install -y -n base -f /opt/app/environment.yml\n",
            "environment.yml": "channels:\n  - conda-forge\n"
            "dependencies:\n  - numpy=1.26.4\n  - pip:\n    - six==1.16.0\n",
        },
    )
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert {r.name for r in read.requirements} == {"numpy", "six"}
    assert ("environment.yml", "conda") in [(i.path, i.kind) for i in read.inputs]


# -- real Dockerfiles: what the audit must find ---------------------------------------------------


def test_transformers_deepspeed_image_torch_is_the_cu118_build(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `ARG PYTORCH='2.0.1'`, `ARG CUDA='cu118'`, `... torch==$PYTORCH ... --extra-index-url .../whl/$CUDA` (line 23).
    folder = corpus("transformers-deepspeed-latest-gpu", here)
    read = parse_dockerfile((folder / "Dockerfile").read_text(), "Dockerfile")
    torch = next(r for r in read.requirements if r.name == "torch")
    assert (str(torch.specifier), torch.variant, torch.location.line) == ("==2.0.1", "cu118", 23)
    report = audit(capsys, "transformers-deepspeed-latest-gpu/Dockerfile")
    assert not found(report, "ED406")
    # The clone of transformers and apex, and setup.py develop, are said not read.
    assert sorted(line for line, _ in not_judged(report)) == [25, 39, 50]


def test_transformers_tensorflow_image_reads_the_tensorflow_its_test_picks(here: Path) -> None:
    folder = corpus("transformers-tensorflow-gpu", here)
    read = parse_dockerfile((folder / "Dockerfile").read_text(), "Dockerfile")
    assert ("tensorflow", 17) in [(r.name, r.location.line) for r in read.requirements]


def test_monai_image_reads_its_requirements_files(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus("monai", here)
    report = audit(capsys, "monai/Dockerfile")
    kinds = {item["path"]: item["kind"] for item in report["inputs"]}
    assert kinds["monai/requirements-dev.txt"] == kinds["monai/requirements-min.txt"] == "requirements"
    assert [line for line, _ in not_judged(report)] == [24, 48]  # the aarch64 branch, setup.py develop


def test_lmdeploy_image_follows_its_install_script(here: Path) -> None:
    folder = corpus("lmdeploy", here)
    read = parse_dockerfile((folder / "Dockerfile").read_text(), "lmdeploy/Dockerfile")
    assert ("lmdeploy/docker/install.sh", "script") in [(i.path, i.kind) for i in read.inputs]
    assert any(r.location.path == "lmdeploy/docker/install.sh" for r in read.requirements) or any(
        f.location.path == "lmdeploy/docker/install.sh" for f in read.followed
    )


def test_a_wrapper_of_python_running_pip_is_followed(here: Path) -> None:
    # verl's isaac lab image: `/workspace/isaaclab/_isaac_sim/python.sh -m pip install easydict==1.9 ...`.
    folder = corpus("verl-isaaclab", here)
    read = parse_dockerfile((folder / "Dockerfile").read_text(), "Dockerfile")
    assert ("easydict", "==1.9", 39) in [(r.name, str(r.specifier), r.location.line) for r in read.requirements]


def test_the_reader_sees_the_instructions_of_a_real_heredoc_file() -> None:
    text = (CORPUS / "nemo-ci" / "Dockerfile").read_text()
    heredoc_runs = [i for i in instructions(text, "Dockerfile") if i.command == "run" and i.heredocs]
    assert len(heredoc_runs) == 4
    assert all(h.name == "EOF" and not h.expand for i in heredoc_runs for h in i.heredocs)


def test_requirements_of_a_dockerfile_reach_the_loader(here: Path) -> None:
    write(here, {"Dockerfile": "FROM python:3.11-slim\nARG V\nRUN pip install six==1.16.0 $V\n"})
    loaded = load_requirement_set(["Dockerfile"], SourceOptions())
    assert [r.name for r in loaded.requirements] == ["six"]
    assert [location.line for _, location in loaded.unread] == [3]


# -- --target: the stage docker build --target builds ---------------------------------------------


def run_cli(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, dict[str, Any] | None, str]:
    code = main(["audit", *arguments, *HOST, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else None), err


def test_target_judges_the_stage_it_names(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # open-instruct: `FROM nvidia/cuda:13.0.3-devel-ubuntu22.04 AS cuda13` (line 3), a CUDA the host's
    # 535 driver (CUDA 12.2) runs only through forward compatibility; the last stage builds on cuda12.
    corpus("open-instruct", here)
    code, report, _ = run_cli(capsys, "open-instruct/Dockerfile")
    assert code == 0 and report is not None and not found(report, "ED101")
    for spelled in ("cuda13", "CUDA13"):  # BuildKit compares stage names case-insensitively
        code, report, err = run_cli(capsys, "open-instruct/Dockerfile", "--target", spelled)
        assert report is not None, err
        assert [(name, line) for name, line, _ in found(report, "ED101")] == [("Dockerfile", 3)]
        # Nothing after the target is built: the last stage's installs (lines 4 on) are not judged.
        assert all(f["location"]["line"] <= 3 for f in report["findings"] if f.get("location", {}).get("line"))
    code, report, _ = run_cli(capsys, "open-instruct/Dockerfile", "--target", "cuda12")
    assert report is not None and not found(report, "ED101")


def test_an_unknown_target_is_one_line_naming_the_dockerfile(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus("nemo-rl", here)
    code, report, err = run_cli(capsys, "nemo-rl/Dockerfile", "--target", "nope")
    assert (code, report) == (2, None)
    assert err.count("\n") == 1 and err.startswith(
        "envdoctor: error: nemo-rl/Dockerfile: target stage 'nope' could not"
    )
    assert "'release'" in err
    code, _, err = run_cli(capsys, "nemo-rl/Dockerfile", "--target", "9")  # docker build takes no index
    assert code == 2 and "takes a stage's name, not its index" in err
    code, _, err = run_cli(capsys, "nemo-rl/Dockerfile", "--target", "a b")
    assert code == 2 and err.count("\n") == 1


def test_target_follows_only_the_stages_it_depends_on(here: Path) -> None:
    # NeMo-RL's release stage: FROM hermetic FROM base, COPY --from=nemo-rl, RUN --mount=from=custom-setup,
    # a cache mount from=trtllm-wheel-cache-seed; the cache-export stages after it are not built.
    text = (corpus("nemo-rl", here) / "Dockerfile").read_text()
    release = parse_dockerfile(text, "Dockerfile", "release")
    assert [i.stage for i in release.images] == [
        "nemo-rl", "uv-cache-seed", "trtllm-wheel-cache-seed", "trtllm-ccache-seed", "custom-setup", "base",
        "hermetic", "release",
    ]  # fmt: skip
    assert [i.stage for i in release.images if i.final] == ["release"]
    assert sorted({f.location.line for f in release.followed}) == [225, 227, 230, 232, 233, 234, 235, 290]
    assert max(line.line or 0 for _, line in release.commands) < 444  # trtllm-ccache-export starts there
    wheels = parse_dockerfile(text, "Dockerfile", "trtllm-wheel-cache")
    assert [i.stage for i in wheels.images] == [
        "trtllm-wheel-cache-seed", "trtllm-wheel-cache-output-base", "base", "trtllm-wheel-cache-export",
        "trtllm-wheel-cache",
    ]  # fmt: skip
    # base's RUN lines (from 55) are built; hermetic's and release's (128 to 443) are not.
    lines = [location.line or 0 for _, location in wheels.commands]
    assert wheels.followed == [] and min(lines) > 55 and not any(128 <= line < 444 for line in lines)


def test_a_last_stage_from_scratch_names_the_stage_that_runs(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # NeMo-RL's last stage, `FROM scratch AS trtllm-cache-export-status` (line 540), exports two files: docker
    # build builds it without --target, so it is what is judged; a note says so and names `release`.
    corpus("nemo-rl", here)
    code, report, _ = run_cli(capsys, "nemo-rl/Dockerfile")
    assert code == 0 and report is not None
    ((line, message),) = not_judged(report)
    assert line == 540 and "FROM scratch and runs nothing" in message and "--target release" in message
    code, report, _ = run_cli(capsys, "nemo-rl/Dockerfile", "--target", "release")
    assert report is not None and all(line != 540 for line, _ in not_judged(report))
    # An image that runs from scratch (a CMD) is no export: no note.
    write(here, {"Dockerfile": 'FROM python:3.11 AS build\nRUN pip install six==1.16.0\nFROM scratch\nCMD ["/app"]\n'})
    assert not not_judged(audit(capsys))


def test_target_from_the_project_configuration(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus("open-instruct", here)
    write(here, {"pyproject.toml": '[tool.envdoctor]\ntarget = "cuda13"\n'})
    code, report, _ = run_cli(capsys, "open-instruct/Dockerfile")
    assert report is not None and [line for _, line, _ in found(report, "ED101")] == [3]
    code, report, _ = run_cli(capsys, "open-instruct/Dockerfile", "--target", "cuda12")  # the command line wins
    assert report is not None and not found(report, "ED101")
    write(here, {"pyproject.toml": "[tool.envdoctor]\ntarget = 3\n"})
    code, _, err = run_cli(capsys, "open-instruct/Dockerfile")
    assert code == 2 and err.count("\n") == 1 and "target must be a Dockerfile stage's name" in err


def test_the_help_says_what_target_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--target STAGE" in text and "docker build --target" in text and "FROM scratch" in text


# -- a conda install that sets the image's Python --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "python", "line"),
    [
        # `conda create --name accelerate python=${PYTHON_VERSION}` (ENV PYTHON_VERSION=3.10), then
        # `source activate accelerate && python3 -m pip install` and ENV PATH /opt/conda/envs/accelerate/bin:$PATH.
        ("accelerate-gpu", "3.10", 15),
        ("peft-cpu", "3.11", 17),  # the same; its `pip install --upgrade pip` into base says nothing
        # `conda install ... python=3.11` into base, ENV PATH="/opt/conda/bin:$PATH", then `pip3 install`.
        ("alphafold", "3.11", 59),
        # `conda install -y python==3.10` with the base image's conda, then `pip install` with its PATH.
        ("colossalai", "3.10", 21),
    ],
)
def test_a_conda_python_is_the_python_of_the_images_pip(
    name: str, python: str, line: int, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = corpus(name, here)
    read = parse_dockerfile((folder / "Dockerfile").read_text(), "Dockerfile")
    assert [(version, at.line) for version, at in read.interpreters] == [(python, line)]
    if name == "accelerate-gpu":  # the audit judges torch and accelerate with that Python
        report = audit(capsys, f"{name}/Dockerfile")
        assert "(Linux x86_64, Python 3.10)" in " ".join(f["message"] for f in report["findings"])


def test_colossalai_numpy_is_judged_with_the_conda_python(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # With Python 3.10 NumPy 2 resolves to 2.2.x (the last release for 3.10), not the newest release.
    corpus("colossalai", here)
    report = audit(capsys, "colossalai/Dockerfile")
    ((_, line, message),) = found(report, "ED203")
    assert line == 21 and "(Linux x86_64, Python 3.10) resolves today to 2.2." in message


@pytest.mark.parametrize(
    ("run", "python"),
    [
        ("RUN conda run -n app pip install six==1.16.0\n", "3.10"),
        ("RUN /opt/conda/envs/app/bin/pip install six==1.16.0\n", "3.10"),
        ('SHELL ["/bin/bash", "-c"]\nRUN conda activate app && pip install six==1.16.0\n', "3.10"),
        ("RUN pip install six==1.16.0\n", None),  # base's pip: not app's
        ("RUN . /opt/venv/bin/activate && pip install six==1.16.0\n", None),  # a venv
        ("RUN /usr/bin/pip3 install six==1.16.0\n", None),  # the system's
        ("ENV PATH=/opt/conda/envs/app/bin:$PATH\nRUN pip install six==1.16.0\n", "3.10"),
        ("ENV PATH=/opt/venv/bin:/opt/conda/envs/app/bin:$PATH\nRUN pip install six==1.16.0\n", None),
        ("RUN source activate app && uv pip install six==1.16.0\n", "3.10"),
        ("RUN uv pip install --system six==1.16.0\n", None),
    ],
)
def test_the_conda_python_only_for_the_pip_of_that_environment(run: str, python: str | None, here: Path) -> None:
    write(here, {"Dockerfile": "FROM continuumio/miniconda3\nRUN conda create -y -n app python=3.10 pip\n" + run})
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [version for version, _ in read.interpreters] == ([python] if python else [])


def test_micromamba_and_an_environment_file_give_the_python(here: Path) -> None:
    write(
        here,
        {
            "Dockerfile": "FROM mambaorg/micromamba:1.5\nCOPY environment.yml /tmp/environment.yml\n"
            "RUN micromamba install -y -n base -f /tmp/environment.yml\nRUN pip install six==1.16.0\n"
            "RUN micromamba create -y -n other python=3.12\n",
            "environment.yml": "channels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n",
        },
    )
    read = parse_dockerfile(Path("Dockerfile").read_text(), "Dockerfile")
    assert [(version, Path(at.path).name, at.line) for version, at in read.interpreters] == [
        ("3.11", "environment.yml", 4)
    ]
