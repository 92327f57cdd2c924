"""${VARIABLES} in requirements files, expanded as pip expands them.

pip replaces ``${NAME}`` (capitals, digits and ``_``; no other form) with the environment's value
before it reads a line (https://pip.pypa.io/en/stable/reference/requirements-file-format/, "Using
environment variables"; pip/_internal/req/req_file.py, ENV_VAR_RE and expand_env_variables).
envdoctor does the same with the environment it runs in; a variable that is not set there may be
set where the file is installed, so its line is not judged and is reported as unread, and the audit
goes on. A variable in a URL's credentials is left as written: its value is a secret, and it does
not change what is installed. The host: Linux x86_64, Python 3.11, NVIDIA driver 470.82.01 (too
old for CUDA 12 builds of torch).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from envdoctor.cli import main
from envdoctor.errors import InputError
from envdoctor.requirements.model import Location
from envdoctor.requirements.requirements_txt import parse_requirements, read_requirements
from tests.test_requirements_conformance import CORPUS, _allowed, differences, pip_reading

HOST = ["--os", "linux", "--arch", "x86_64", "--python", "3.11", "--driver", "470.82.01"]
SERVE = CORPUS / "pytorch__serve" / "requirements"  # pytorch/serve's torch_cu121_linux.txt and what it includes
TOKEN = "ghp_" + "Q7x" * 12  # shaped like a GitHub token; must never be printed
NOT_SET = "is not set here, and pip takes it from the environment it runs in"


@pytest.fixture(autouse=True)
def _no_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TORCH_INDEX", "TORCH_VERSION", "REQ_DIR", "GITHUB_TOKEN", "PYPI_TOKEN", "CU", "PYV"):
        monkeypatch.delenv(name, raising=False)


def audit(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict[str, Any], str]:
    code = main(["audit", str(path), *HOST, "--format", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}, out + err


def codes_at(report: dict[str, Any]) -> set[tuple[str, str, int | None]]:
    return {
        (f["code"], Path(f["location"]["path"]).name, f["location"].get("line"))
        for f in report["findings"]
        if f.get("location")
    }


def test_a_set_variable_is_expanded_as_pip_expands_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TORCH_INDEX", "https://download.pytorch.org/whl/cu121")
    monkeypatch.setenv("TORCH_VERSION", "2.1.0+cu121")
    path = tmp_path / "requirements.txt"
    path.write_text("--extra-index-url ${TORCH_INDEX}\ntorch==${TORCH_VERSION}\n")
    code, report, output = audit(capsys, path)
    assert code == 1, output
    found = codes_at(report)
    assert ("ED101", "requirements.txt", 2) in found  # the CUDA 12.1 build on a 470 driver
    assert not any(code == "ED406" for code, _, _ in found)  # the index the variable names is in effect
    assert "${" not in output
    monkeypatch.chdir(tmp_path)
    assert (
        differences(
            path, tmp_path, {"TORCH_INDEX": "https://download.pytorch.org/whl/cu121"} | {"TORCH_VERSION": "2.1.0+cu121"}
        )
        == []
    )


def test_an_include_named_by_a_variable_is_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(SERVE, tmp_path / "requirements")
    monkeypatch.setenv("REQ_DIR", str(tmp_path / "requirements"))
    path = tmp_path / "requirements.txt"
    path.write_text("-r ${REQ_DIR}/torch_cu121_linux.txt\n")
    code, report, output = audit(capsys, path)
    assert code == 1, output
    # torch==2.4.0+cu121 on line 4 of pytorch/serve's file, from the cu121 index it names on line 2
    assert ("ED101", "torch_cu121_linux.txt", 4) in codes_at(report)


def test_an_include_a_variable_misnames_quotes_the_line_not_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REQ_DIR", str(tmp_path / "nowhere"))
    path = tmp_path / "requirements.txt"
    path.write_text("six==1.16.0\n-r ${REQ_DIR}/torch_cu121_linux.txt\n")
    code, _report, output = audit(capsys, path)
    assert code == 2
    assert output.count("\n") == 1 and "requirements.txt:2: -r ${REQ_DIR}/torch_cu121_linux.txt: " in output
    assert "expanded from the environment" in output and "nowhere" not in output


def test_an_unset_variable_leaves_its_line_out_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("six==1.16.0\n--extra-index-url ${TORCH_INDEX}\ntorch==${TORCH_VERSION}\n-r ${REQ_DIR}/more.txt\n")
    found = read_requirements(str(path), root=tmp_path)
    assert [r.name for r in found.requirements] == ["six"]
    assert found.indexes.extra_index_urls == ()
    assert [i.path for i in found.inputs] == [str(path)]
    assert found.unread == [
        (f"'--extra-index-url ${{TORCH_INDEX}}': ${{TORCH_INDEX}} {NOT_SET}", Location(str(path), 2)),
        (f"'torch==${{TORCH_VERSION}}': ${{TORCH_VERSION}} {NOT_SET}", Location(str(path), 3)),
        (f"'-r ${{REQ_DIR}}/more.txt': ${{REQ_DIR}} {NOT_SET}", Location(str(path), 4)),
    ]


def test_an_unset_variable_is_a_not_judged_note_not_a_failed_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("six==1.16.0\ntorch==${TORCH_VERSION}\n")
    code, report, output = audit(capsys, path)
    assert code == 0, output
    notes = [f for f in report["findings"] if f["category"] == "not-judged"]
    assert [(f["location"]["line"], "${TORCH_VERSION} is not set" in f["message"]) for f in notes] == [(2, True)]


def test_until_then_an_unset_variable_is_refused_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("six==1.16.0\ntorch==${TORCH_VERSION}\n")
    with pytest.raises(InputError, match=r"requirements\.txt:2: 'torch==\$\{TORCH_VERSION\}': \$\{TORCH_VERSION\} is"):
        parse_requirements(str(path), root=tmp_path)


def test_an_empty_variable_is_not_set(tmp_path: Path) -> None:
    # pip leaves a variable whose value is empty as written (expand_env_variables: "if not value")
    path = tmp_path / "requirements.txt"
    path.write_text("torch==${TORCH_VERSION}\n")
    found = read_requirements(str(path), root=tmp_path, environ={"TORCH_VERSION": ""})
    assert found.requirements == [] and [where.line for _why, where in found.unread] == [1]


def test_the_environment_given_is_the_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A Dockerfile's RUN has the image's ENV and ARG values, not envdoctor's: the caller says which.
    monkeypatch.setenv("TORCH_VERSION", "2.5.1")
    path = tmp_path / "requirements.txt"
    path.write_text("torch==${TORCH_VERSION}\n")
    found = read_requirements(str(path), root=tmp_path, environ={"TORCH_VERSION": "2.1.0"})
    assert [str(r.specifier) for r in found.requirements] == ["==2.1.0"]


@pytest.mark.parametrize(
    "line",
    ["torch==$TORCH_VERSION", "torch==${torch_version}", "torch==${TORCH_VERSION:-2.1.0}", "torch==%TORCH_VERSION%"],
)
def test_only_pips_form_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    # pip leaves these as written, and then cannot read the line: neither can envdoctor.
    monkeypatch.setenv("TORCH_VERSION", "2.1.0")
    monkeypatch.setenv("torch_version", "2.1.0")
    path = tmp_path / "requirements.txt"
    path.write_text(f"{line}\n")
    assert pip_reading(path).error is not None
    code, _report, output = audit(capsys, path)
    assert code == 2 and output.count("\n") == 1 and "requirements.txt:1: invalid requirement" in output


def test_a_variable_in_a_comment_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("# pip install --extra-index-url ${TORCH_INDEX} -r requirements.txt\nsix==1.16.0  # ${PYV}\n")
    found = read_requirements(str(path), root=tmp_path)
    assert [r.name for r in found.requirements] == ["six"] and found.unread == []


@pytest.mark.parametrize("token_set", [True, False])
def test_credentials_are_kept_as_written_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], token_set: bool
) -> None:
    if token_set:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("PYPI_TOKEN", TOKEN)
    path = tmp_path / "requirements.txt"
    path.write_text(
        "--extra-index-url https://__token__:${PYPI_TOKEN}@pypi.example.com/simple\n"
        "private-lib @ git+https://${GITHUB_TOKEN}@github.com/example/private-lib.git@main\n"
    )
    found = read_requirements(str(path), root=tmp_path)
    assert found.unread == []
    assert found.indexes.extra_index_urls == ("https://__token__:${PYPI_TOKEN}@pypi.example.com/simple",)
    assert [r.url for r in found.requirements] == [
        "git+https://${GITHUB_TOKEN}@github.com/example/private-lib.git@main"
    ]
    code, report, output = audit(capsys, path)
    assert code in (0, 1), output
    assert ("ED403", "requirements.txt", 2) in codes_at(report)  # a branch, not a commit: judged all the same
    assert TOKEN not in output and TOKEN[:8] not in output


@pytest.mark.parametrize(
    "text",
    [
        "--extra-index-url ${TORCH_INDEX}\ntorch==${TORCH_VERSION}\n",
        "https://download.pytorch.org/whl/${CU}/torch-2.1.0%2Bcu121-cp311-cp311-linux_x86_64.whl ; python_version > '3'"
        "\n",
        "six==1.16.0; python_version >= '${PYV}'\n",
        "torch==${TORCH_VERSION} --hash=sha256:${PYV}${PYV}\n",
        "git+https://${GITHUB_TOKEN}@github.com/example/private-lib.git@main#egg=private-lib\n",
    ],
)
def test_expanded_lines_read_as_pip_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    environ = {
        "TORCH_INDEX": "https://download.pytorch.org/whl/cu121",
        "TORCH_VERSION": "2.1.0+cu121",
        "CU": "cu121",
        "PYV": "3",
        "GITHUB_TOKEN": TOKEN,
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)  # pip reads os.environ
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    assert pip_reading(path).error is None
    assert [d for d in differences(path, tmp_path, environ) if _allowed(d) is None] == []
