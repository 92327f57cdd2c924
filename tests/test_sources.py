"""Requirement sources, table-driven: each input kind read as pip, PEP 621/735/751 and Docker read it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.markers import Marker

from envdoctor.errors import InputError, UsageError
from envdoctor.requirements import SourceOptions, detect_kind, load_requirement_set
from envdoctor.requirements.model import Form


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


@pytest.mark.parametrize(
    ("line", "name", "form", "specifier", "extras", "marker", "editable"),
    [
        ("torch==2.1.0+cu121", "torch", Form.NAMED, "==2.1.0+cu121", set(), None, False),
        ("Jax[CUDA12] >= 0.4.30 ; sys_platform == 'linux'", "jax", Form.NAMED, ">=0.4.30", {"cuda12"}, "linux", False),
        ("numpy<2,>=1.24", "numpy", Form.NAMED, "<2,>=1.24", set(), None, False),
        ("thing @ https://example.org/thing-1.0-py3-none-any.whl", "thing", Form.URL, "", set(), None, False),
        ("https://example.org/pkgs/foo-1.0-py3-none-any.whl", "foo", Form.URL, "", set(), None, False),
        ("git+https://github.com/org/repo@v1.0#egg=repo", "repo", Form.VCS, "", set(), None, False),
        ("-e git+https://github.com/org/lib.git@main#egg=lib", "lib", Form.VCS, "", set(), None, True),
        ("-e ./src/pkg", None, Form.PATH, "", set(), None, True),
        ("./dist/pkg-1.0.tar.gz", "pkg", Form.PATH, "", set(), None, False),
        ("file:///wheels/bar-2.0-py3-none-any.whl", "bar", Form.PATH, "", set(), None, False),
    ],
)
def test_requirement_lines(  # noqa: PLR0917 - one argument a column of the table
    tmp_path: Path,
    line: str,
    name: str | None,
    form: Form,
    specifier: str,
    extras: set[str],
    marker: str | None,
    editable: bool,
) -> None:
    write(tmp_path, {"requirements.txt": line + "\n"})
    (requirement,) = load_requirement_set([str(tmp_path / "requirements.txt")], SourceOptions()).requirements
    assert (requirement.name, requirement.form, requirement.editable) == (name, form, editable)
    assert str(requirement.specifier) == specifier or set(str(requirement.specifier).split(",")) == set(
        specifier.split(",")
    )
    assert set(requirement.extras) == extras
    if marker:
        assert requirement.marker is not None and marker in str(requirement.marker)


def test_everything_pip_accepts_in_one_set(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": (
                "# pinned for the GPU box\n"
                "-r common/base.txt\n"
                "--constraint constraints.txt\n"
                "--index-url https://pypi.example.org/simple\n"
                "--extra-index-url https://download.pytorch.org/whl/cu121\n"
                "-f ./wheels\n"
                "torch==2.1.0+cu121 \\\n"
                "    --hash=sha256:aaa \\\n"
                "    --hash=sha256:bbb  # envdoctor: ignore[ED101, ED402]\n"
                "tensorflow ; python_version < '3.12'   # a comment\n"
            ),
            "common/base.txt": "pandas>=2\n-r more.txt\n",
            "common/more.txt": "requests==2.32.3\n",
            "constraints.txt": "numpy<2\n",
        },
    )
    result = load_requirement_set([str(tmp_path / "requirements.txt")], SourceOptions())
    by_name = {r.name: r for r in result.requirements if not r.constraint}
    assert sorted(by_name) == ["pandas", "requests", "tensorflow", "torch"]
    torch = by_name["torch"]
    assert torch.hashes == ("sha256:aaa", "sha256:bbb")
    assert torch.location.line == 7 and torch.ignored == frozenset({"ED101", "ED402"})
    assert by_name["requests"].location.path.endswith("common/more.txt")
    assert by_name["tensorflow"].marker == Marker("python_version < '3.12'")
    constraint = next(r for r in result.requirements if r.constraint)
    assert (constraint.name, str(constraint.specifier)) == ("numpy", "<2")
    assert result.indexes.index_url == "https://pypi.example.org/simple"
    assert result.indexes.extra_index_urls == ("https://download.pytorch.org/whl/cu121",)
    assert result.indexes.find_links == ("./wheels",)
    assert [i.kind for i in result.inputs] == ["requirements", "requirements", "requirements", "constraints"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"requirements.txt": "-r requirements.txt\n"}, "include cycle"),
        ({"requirements.txt": "-r https://example.org/r.txt\n"}, "includes from URLs are not followed"),
        ({"requirements.txt": "pkg==1\n--hash=sha256:x\n"}, "requirements.txt:2: --hash without a requirement"),
        ({"requirements.txt": "name ==\n"}, "requirements.txt:1: invalid requirement"),
        ({"requirements.txt": "a==1 --pre=yes\n"}, "--pre takes no value"),
        ({"pyproject.toml": "[project\n"}, "pyproject.toml:1: not valid TOML"),
        ({"pyproject.toml": "[project]\ndependencies = 'torch'\n"}, "project.dependencies must be a list of strings"),
        ({"pylock.toml": 'lock-version = "9.0"\ncreated-by = "x"\n'}, "not a valid pylock.toml"),
        ({"Dockerfile": "FROM\n"}, "Dockerfile:1: FROM without an image"),
        ({"Dockerfile": "FROM python:3.11\n!!\n"}, "Dockerfile:2: not a Dockerfile instruction"),
    ],
)
def test_bad_sources_name_file_and_line(tmp_path: Path, files: dict[str, str], message: str) -> None:
    write(tmp_path, files)
    with pytest.raises(InputError) as caught:
        load_requirement_set([str(tmp_path / next(iter(files)))], SourceOptions())
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_pyproject_extras_and_groups(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": (
                "[project]\n"
                'name = "model"\n'
                "dependencies = [\n"
                '    "torch>=2.2",\n'
                '    "numpy<2",\n'
                "]\n"
                "[project.optional-dependencies]\n"
                'gpu = ["cupy-cuda12x>=13"]\n'
                "[dependency-groups]\n"
                'test = ["pytest>=8"]\n'
                'dev = ["ruff", {include-group = "test"}]\n'
            )
        },
    )
    path = str(tmp_path / "pyproject.toml")
    plain = load_requirement_set([path], SourceOptions())
    assert [(r.name, r.location.line) for r in plain.requirements] == [("torch", 4), ("numpy", 5)]
    full = load_requirement_set([path], SourceOptions(extras=("gpu",), groups=("dev",)))
    assert [r.name for r in full.requirements] == ["torch", "numpy", "cupy-cuda12x", "ruff", "pytest"]
    assert full.requirements[2].location.line == 8
    with pytest.raises(InputError, match="no optional dependencies named 'cpu'"):
        load_requirement_set([path], SourceOptions(extras=("cpu",)))
    with pytest.raises(InputError, match="no dependency group named 'docs'"):
        load_requirement_set([path], SourceOptions(groups=("docs",)))


def test_pylock_read_with_packaging(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pylock.toml": (
                'lock-version = "1.0"\n'
                'created-by = "uv"\n'
                "[[packages]]\n"
                'name = "numpy"\n'
                'version = "1.26.4"\n'
                "[[packages.wheels]]\n"
                'url = "https://files.pythonhosted.org/numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl"\n'
                'hashes = {sha256 = "' + "a" * 64 + '"}\n'
                "[[packages]]\n"
                'name = "torch"\n'
                'version = "2.2.0"\n'
                "[packages.sdist]\n"
                'url = "https://example.org/torch-2.2.0.tar.gz"\n'
                'hashes = {sha256 = "' + "b" * 64 + '"}\n'
            )
        },
    )
    result = load_requirement_set([str(tmp_path / "pylock.toml")], SourceOptions())
    assert [(r.name, str(r.specifier), r.location.line) for r in result.requirements] == [
        ("numpy", "==1.26.4", 3),
        ("torch", "==2.2.0", 9),
    ]
    assert result.requirements[0].hashes == ("sha256:" + "a" * 64,)


def test_dockerfile_layers(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Dockerfile": (
                "# syntax=docker/dockerfile:1\n"
                "ARG CUDA=12.1.1\n"
                "FROM nvidia/cuda:${CUDA}-cudnn8-devel-ubuntu22.04 AS build\n"
                "RUN apt-get update && apt-get install -y --no-install-recommends gcc \\\n"
                "    && rm -rf /var/lib/apt/lists/*\n"
                "COPY requirements.txt .\n"
                "RUN --mount=type=cache,target=/root/.cache/pip \\\n"
                "    python3 -m pip install -r requirements.txt --extra-index-url https://download.pytorch.org/whl/cu121\n"
                "FROM python:3.11-slim@sha256:" + "c" * 64 + "\n"
                "ENV LD_LIBRARY_PATH=/usr/local/cuda/lib64 PYTHONUNBUFFERED=1\n"
                'RUN ["uv", "pip", "install", "--system", "numpy==1.26.4"]\n'
                "COPY --from=build /opt/venv /opt/venv\n"
            ),
            "requirements.txt": "torch==2.1.0\n",
        },
    )
    result = load_requirement_set([str(tmp_path / "Dockerfile")], SourceOptions())
    first, final = result.images
    assert (first.repository, first.tag, first.stage, first.final) == (
        "nvidia/cuda",
        "12.1.1-cudnn8-devel-ubuntu22.04",
        "build",
        False,
    )
    assert (final.repository, final.digest, final.final) == ("python", "sha256:" + "c" * 64, True)
    assert [(r.name, r.location.path.endswith("requirements.txt")) for r in result.requirements] == [
        ("torch", True),
        ("numpy", False),
    ]
    assert ("gcc", 4) in [(name, location.line) for name, location in result.system_packages]
    assert [(k, v) for k, v, _ in result.environment] == [
        ("LD_LIBRARY_PATH", "/usr/local/cuda/lib64"),
        ("PYTHONUNBUFFERED", "1"),
    ]
    assert result.indexes.extra_index_urls == ("https://download.pytorch.org/whl/cu121",)


def test_installed_environment_of_a_python() -> None:
    result = load_requirement_set([], SourceOptions(installed_python=sys.executable))
    names = {r.name for r in result.requirements}
    assert {"packaging", "pytest"} <= names
    assert all(r.pinned_version is not None for r in result.requirements)
    with pytest.raises(InputError, match="cannot run this Python"):
        load_requirement_set([], SourceOptions(installed_python="/no/such/python"))


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("requirements.txt", "requirements"),
        ("requirements/dev.in", "requirements"),
        ("constraints-gpu.txt", "requirements"),
        ("pyproject.toml", "pyproject"),
        ("pylock.toml", "pylock"),
        ("pylock.gpu.toml", "pylock"),
        ("Dockerfile", "dockerfile"),
        ("train.Dockerfile", "dockerfile"),
        ("Dockerfile.gpu", "dockerfile"),
        ("Containerfile", "dockerfile"),
    ],
)
def test_kind_from_file_name(name: str, kind: str) -> None:
    assert detect_kind(name) == kind


def test_unknown_kind_asks_for_kind() -> None:
    with pytest.raises(InputError, match="--kind"):
        detect_kind("deps.cfg")
    with pytest.raises(UsageError):
        load_requirement_set(["x"], SourceOptions(kind="cargo"))
