"""Conda environments (issue 13, part 2): ``environment.yml``, ``conda list --explicit`` and
``--export`` output, and what conda packages mean for the audit: PyPI names, PEP 440 specifiers,
the CUDA build of torch that pytorch-cuda, cpuonly, cudatoolkit or a build string fixes, and the
CUDA, cuDNN and Python the environment brings. Fixtures: tests/fixtures/conda/ (PROVENANCE.md)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from envdoctor.cli import main
from envdoctor.errors import InputError
from envdoctor.requirements import looks_like_conda_list, looks_like_environment_yml
from envdoctor.requirements.conda import (
    MAX_YAML_BYTES,
    CondaEnvironment,
    build_variant,
    cannot_create,
    conda_requirements,
    conda_specifier,
    parse_conda_list,
    parse_environment_yml,
    parse_match_spec,
    read_conda_specs,
)
from envdoctor.requirements.conda_fix import PIP, Dialect, conda_spec, dialect_of, speak, torch_selection
from envdoctor.requirements.model import MAX_REQUIREMENTS, Form, Location

FIXTURES = Path(__file__).parent / "fixtures" / "conda"
HERE = Location("environment.yml", 7)


def read(name: str) -> CondaEnvironment:
    path = FIXTURES / name
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".txt", ".lock"):
        return parse_conda_list(text, str(path))
    return parse_environment_yml(text, str(path))


def named(env: CondaEnvironment, name: str) -> list[tuple[str, str | None, int | None]]:
    """Each requirement on ``name``: its specifier, variant and line."""
    return [(str(r.specifier), r.variant, r.location.line) for r in env.requirements if r.name == name]


# --- conda's match-spec grammar (conda/models/match_spec.py) --------------------------------------

MATCH_SPECS = [
    # spec as written, (name, version after conda's '=' rules, build, channel)
    ("pytorch", ("pytorch", None, None, None)),
    ("pytorch=2.1.0", ("pytorch", "2.1.0*", None, None)),
    ("pytorch==2.1.0", ("pytorch", "2.1.0", None, None)),
    ("pytorch==2.1.0=py3.10_cuda11.8_cudnn8.7.0_0", ("pytorch", "2.1.0", "py3.10_cuda11.8_cudnn8.7.0_0", None)),
    ("pytorch=1.11.0=py3.9_cuda11.3_cudnn8.2.0_0", ("pytorch", "1.11.0", "py3.9_cuda11.3_cudnn8.2.0_0", None)),
    ("numpy 1.11.1 py36_0", ("numpy", "1.11.1", "py36_0", None)),
    ("numpy>=1.24,<2", ("numpy", ">=1.24,<2", None, None)),
    ("python >= 3.8", ("python", ">=3.8", None, None)),
    ("conda-forge::pytorch", ("pytorch", None, None, "conda-forge")),
    ("nvidia::cuda-toolkit", ("cuda-toolkit", None, None, "nvidia")),
    ("nvidia/label/cuda-12.0.1::cuda-toolkit = 11.8", ("cuda-toolkit", "11.8*", None, "nvidia/label/cuda-12.0.1")),
    ("pytorch::pytorch-mutex = *=*cuda*", ("pytorch-mutex", "*", "*cuda*", "pytorch")),
    ("numpy[version='>=1.8,<2']", ("numpy", ">=1.8,<2", None, None)),
    ("PyYAML", ("pyyaml", None, None, None)),
    ("pytorch-cuda=11.8  # or 12.1", ("pytorch-cuda", "11.8*", None, None)),
    ("cudf==26.2.*,>=0.0.0a0", ("cudf", "26.2.*,>=0.0.0a0", None, None)),  # conda drops the leading ==
]


@pytest.mark.parametrize(("text", "expected"), MATCH_SPECS)
def test_a_match_spec_splits_as_conda_splits_it(
    text: str, expected: tuple[str, str | None, str | None, str | None]
) -> None:
    spec = parse_match_spec(text)
    assert (spec.name, spec.version, spec.build, spec.channel) == expected


@pytest.mark.parametrize("text", ["=1.2", ">=3.8", "", "   ", "# only a comment", "numpy::"])
def test_a_spec_without_a_package_name_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="names no conda package"):
        parse_match_spec(text)


CONDA_VERSIONS = [
    # conda's version spec (after its '=' rules) -> the PEP 440 specifier
    (None, ""),
    ("*", ""),
    ("2.1*", "==2.1.*"),  # conda's fuzzy match: 2.1 and 2.1.x, not 2.10
    ("2.1.*", "==2.1.*"),
    ("2.1.0", "==2.1.0"),  # a bare version is exact
    ("==2.1.0", "==2.1.0"),
    ("=2.1", "==2.1.*"),
    (">=1.24,<2", ">=1.24,<2"),
    (">=1.8*", ">=1.8"),  # conda drops a '*' after an ordering operator
    ("!=1.8*", "!=1.8.*"),
    ("~=1.4", "~=1.4"),
    ("==26.2.*,>=0.0.0a0", "==26.2.*,>=0.0.0a0"),
    ("0.1.5.post20221221", "==0.1.5.post20221221"),
]


@pytest.mark.parametrize(("version", "specifier"), CONDA_VERSIONS)
def test_a_conda_version_is_a_pep440_specifier(version: str | None, specifier: str) -> None:
    assert conda_specifier(version) == SpecifierSet(specifier)


@pytest.mark.parametrize("version", ["1.11.1|1.11.3", "9e", "1.1.1t", "(>=1|<0.5),!=2"])
def test_a_conda_version_pep440_cannot_say_is_not_mapped(version: str) -> None:
    with pytest.raises(ValueError, match="PEP 440"):
        conda_specifier(version)


BUILDS = [
    ("py3.10_cuda11.8_cudnn8.7.0_0", "cu118"),  # the pytorch channel's pytorch
    ("py3.9_cuda11.3_cudnn8.2.0_0", "cu113"),
    ("py39_cu113", "cu113"),  # its torchvision
    ("cuda111py37h07fa5b8_1", "cu111"),  # conda-forge's pytorch, 2021
    ("cuda126_mkl_py312_h30b5a27_300", "cu126"),  # conda-forge's pytorch, 2025
    ("py37cuda111hfcef1eb_0_cuda", "cu111"),
    ("cpu_mkl_py310h2b2ba9b_100", "cpu"),
    ("py3.9_cpu_0", "cpu"),
    ("pyhd8ed1ab_0", None),
    ("*cuda*", None),
    (None, None),
]


@pytest.mark.parametrize(("build", "variant"), BUILDS)
def test_a_build_string_names_the_torch_build(build: str | None, variant: str | None) -> None:
    assert build_variant(build) == variant


# --- conda packages as the requirements the audit judges ---------------------------------------------

CONDA_REQUIREMENTS = [
    # spec, (PyPI name, specifier, variant); None: no Python requirement at all
    ("pytorch", ("torch", "", None)),
    ("pytorch=2.1.0", ("torch", "==2.1.0.*", None)),
    ("pytorch==2.1.0", ("torch", "==2.1.0", None)),
    ("pytorch==2.1.0=py3.10_cuda11.8_cudnn8.7.0_0", ("torch", "==2.1.0", "cu118")),
    ("conda-forge::pytorch-gpu=2.1", ("torch", "==2.1.*", None)),
    ("pytorch-cpu=2.1", ("torch", "==2.1.*", "cpu")),
    ("tensorflow-gpu=2.4", ("tensorflow", "==2.4.*", None)),
    ("py-opencv", ("opencv-python", "", None)),
    ("matplotlib-base>=3.5", ("matplotlib", ">=3.5", None)),
    ("torchvision=0.12.0=py39_cu113", ("torchvision", "==0.12.0", "cu113")),
    ("numpy>=1.24,<2", ("numpy", ">=1.24,<2", None)),
    ("typing_extensions", ("typing-extensions", "", None)),
    ("cuda-python>=12.9.2,<13.0", ("cuda-python", ">=12.9.2,<13.0", None)),
    ("librosa=0.10", ("librosa", "==0.10.*", None)),
    ("python=3.10", None),
    ("pip", None),
    ("cudatoolkit=11.3", None),
    ("nvidia::cuda-toolkit", None),
    ("cuda-version=12.4", None),
    ("cudnn=8.9", None),
    ("pytorch-cuda=11.8", None),
    ("cpuonly", None),
    ("jpeg=9e", None),
    ("gcc_linux-64=14.*", None),
    ("libcublas-dev", None),
    ("_libgcc_mutex=0.1=main", None),
    ("ffmpeg", None),
    ("numpy=1.11.1|1.11.3", None),  # not mapped: a not-judged note instead
]


@pytest.mark.parametrize(("spec", "expected"), CONDA_REQUIREMENTS)
def test_a_conda_spec_means_a_pypi_requirement(spec: str, expected: tuple[str, str, str | None] | None) -> None:
    requirements = conda_requirements([spec], HERE)
    if expected is None:
        assert requirements == []
        return
    (requirement,) = requirements
    name, specifier, variant = expected
    assert (requirement.name, requirement.specifier, requirement.variant) == (name, SpecifierSet(specifier), variant)
    assert requirement.form is Form.NAMED
    assert requirement.location == HERE
    assert requirement.text == spec
    assert requirement.source is not None and requirement.source.startswith("conda")


ENVIRONMENTS = [
    # specs, channels, (torch's variant, the environment's CUDA, its cuDNN)
    (["pytorch=2.1.0", "pytorch-cuda=11.8"], ("pytorch", "nvidia"), ("cu118", "11.8", None)),
    (["pytorch::pytorch=2.0.0", "pytorch::pytorch-cuda=11.7.0"], (), ("cu117", "11.7", None)),
    (["pytorch=1.12.1", "torchvision", "cudatoolkit=11.3"], ("pytorch",), ("cu113", "11.3", None)),
    (["pytorch=1.12.1", "cpuonly"], ("pytorch",), ("cpu", None, None)),
    # conda-forge's pytorch is not picked by cudatoolkit: the build is left open (and said so).
    (["pytorch=1.12.1", "cudatoolkit=11.6"], ("conda-forge",), (None, "11.6", None)),
    (["pytorch=*=*cuda*", "cuda-version=12.4", "cudnn=8.9"], ("conda-forge",), (None, "12.4", "8.9")),
    (["cudatoolkit=11.3.1=h2bc3f7f_2", "cudnn=7.6.5=cuda10.0_0"], (), (None, "11.3", "7.6.5")),
    (["nvidia/label/cuda-12.0.1::cuda-toolkit"], (), (None, "12.0", None)),
    (["tensorflow-gpu=2.4", "cudatoolkit=10.1", "cudnn=7.6"], ("anaconda",), (None, "10.1", "7.6")),
]


@pytest.mark.parametrize(("specs", "channels", "expected"), ENVIRONMENTS)
def test_what_fixes_the_torch_build_and_the_environments_cuda(
    specs: list[str], channels: tuple[str, ...], expected: tuple[str | None, str | None, str | None]
) -> None:
    env = read_conda_specs(
        [(spec, Location("environment.yml", n)) for n, spec in enumerate(specs, 1)], channels, "environment.yml"
    )
    torch = [r.variant for r in env.requirements if r.name == "torch"]
    assert (torch[0] if torch else None, env.system_cuda, env.system_cudnn) == expected


def test_torch_from_pytorch_cuda_names_where_its_build_comes_from() -> None:
    env = read_conda_specs(
        [("pytorch=2.1.0", Location("environment.yml", 5)), ("pytorch-cuda=11.8", Location("environment.yml", 6))],
        ("pytorch", "nvidia"),
        "environment.yml",
    )
    (torch,) = env.requirements
    assert torch.variant == "cu118"
    assert torch.source == "conda channel pytorch (pytorch-cuda=11.8)"
    assert env.system_cuda_at == Location("environment.yml", 6)


def test_a_torch_build_nothing_fixes_is_said_not_guessed() -> None:
    env = read_conda_specs([("pytorch=2.1", HERE)], ("conda-forge",), "environment.yml")
    assert env.requirements[0].variant is None
    ((why, where),) = env.unread
    assert "which build of torch" in why and where == HERE


def test_two_cuda_releases_are_reported_and_the_most_telling_wins() -> None:
    specs = [("cudatoolkit=11.3", Location("e.yml", 3)), ("cuda-version=12.0", Location("e.yml", 4))]
    env = read_conda_specs(specs, (), "e.yml")
    assert env.system_cuda == "12.0"
    assert any("two CUDA releases" in why for why, _ in env.unread)


def test_a_cuda_range_or_an_unversioned_cuda_is_not_a_cuda_release() -> None:
    env = read_conda_specs([("cudatoolkit>=11", HERE), ("cudnn", HERE)], (), "environment.yml")
    assert (env.system_cuda, env.system_cudnn) == (None, None)
    assert [why for why, _ in env.unread] == [
        "conda package 'cudatoolkit>=11' installs CUDA libraries, but its version is a range",
        "conda package 'cudnn' installs cuDNN, but it names no version",
    ]


def test_a_version_pep440_cannot_say_is_a_not_judged_note_naming_its_line() -> None:
    env = read_conda_specs([("numpy=1.11.1|1.11.3", HERE)], (), "environment.yml")
    assert env.requirements == ()
    why = "conda package 'numpy=1.11.1|1.11.3': its version '=1.11.1|1.11.3' is a choice ('|'), which a PEP 440 "
    assert env.unread == ((why + "specifier cannot say", HERE),)


# --- the readers on real files -------------------------------------------------------------------------


def test_stable_diffusion_cudatoolkit_picks_the_pytorch_channels_cuda_113_build() -> None:
    env = read("stable-diffusion/environment.yaml")
    assert (env.name, env.channels) == ("ldm", ("pytorch", "defaults"))
    assert (env.python, env.python_specifier, env.python_at) == (
        "3.8.5",
        SpecifierSet("==3.8.5.*"),
        Location(str(FIXTURES / "stable-diffusion/environment.yaml"), 6),
    )
    assert (env.system_cuda, env.system_cuda_at.line if env.system_cuda_at else None) == ("11.3", 8)
    assert named(env, "torch") == [("==1.11.0.*", "cu113", 9)]
    assert named(env, "torchvision") == [("==0.12.0.*", "cu113", 10)]
    assert named(env, "numpy") == [("==1.19.2.*", None, 11)]
    # The pip section, read as pip reads it: pins, an editable VCS URL, the project itself.
    assert named(env, "opencv-python") == [("==4.1.2.30", None, 15)]
    assert named(env, "taming-transformers") == [("", None, 29)]
    editable = [r for r in env.requirements if r.editable]
    assert [(r.form, r.location.line) for r in editable] == [(Form.VCS, 29), (Form.VCS, 30), (Form.PATH, 31)]
    assert len(env.requirements) == 22
    assert env.unread == ()


def test_controlnet_a_pinned_pip_section_beside_conda_pins() -> None:
    env = read("controlnet/environment.yaml")
    assert (env.python, env.system_cuda) == ("3.8.5", "11.3")
    assert named(env, "torch") == [("==1.12.1.*", "cu113", 9)]
    assert named(env, "opencv-contrib-python") == [("==4.3.0.36", None, 15)]
    assert named(env, "open-clip-torch") == [("==2.0.2", None, 26)]
    assert len(env.requirements) == 26


def test_stylegan3_a_spaced_python_range_and_cudatoolkit_111() -> None:
    env = read("stylegan3/environment.yml")
    assert (env.python, env.python_specifier) == (None, SpecifierSet(">=3.8"))
    assert env.system_cuda == "11.1"
    assert named(env, "torch") == [("==1.9.1.*", "cu111", 12)]
    assert named(env, "numpy") == [(">=1.20", None, 8)]
    assert [why for why, _ in env.unread] == ["1 conda package that is not Python (ninja)"]


def test_gaussian_splatting_submodule_folders_not_here_are_not_judged_not_fatal() -> None:
    env = read("gaussian-splatting/environment.yml")
    assert (env.python, env.system_cuda) == ("3.7.13", "11.6")
    assert named(env, "torch") == [("==1.12.1.*", "cu116", 12)]
    assert named(env, "torchaudio") == [("==0.12.1.*", "cu116", 13)]
    assert named(env, "opencv-python") == [("", None, 19)]
    # The submodules are git submodules, not in this checkout: pip could not install them here.
    assert [(why.split(":")[0], where.line) for why, where in env.unread] == [
        ("'submodules/diff-gaussian-rasterization'", 17),
        ("'submodules/simple-knn'", 18),
    ]


def test_dinov2_channel_prefixes_pytorch_cuda_117_and_the_pip_sections_index() -> None:
    env = read("dinov2/conda.yaml")
    assert env.python == "3.9" and env.system_cuda == "11.7"
    (torch,) = [r for r in env.requirements if r.name == "torch"]
    assert (str(torch.specifier), torch.variant, torch.location.line) == ("==2.0.0.*", "cu117", 10)
    assert torch.source == "conda channel pytorch (pytorch::pytorch-cuda=11.7.0)"
    assert named(env, "xformers") == [("==0.0.18.*", None, 17)]
    assert env.indexes.extra_index_urls == ("https://pypi.nvidia.com",)
    assert named(env, "cuml-cu11") == [("", None, 22)]
    assert [r.form for r in env.requirements if r.location.line == 20] == [Form.VCS]


def test_openfold_conda_forge_first_pytorch_cuda_124_and_bioconda_tools() -> None:
    env = read("openfold/environment.yml")
    assert env.channels == ("conda-forge", "bioconda", "pytorch", "nvidia")
    assert (env.python, env.system_cuda) == ("3.10", "12.4")  # pytorch-cuda=12.4 brings CUDA 12.4's libraries
    assert named(env, "torch") == [("==2.5.*", "cu124", 34)]
    assert named(env, "setuptools") == [("==59.5.0.*", None, 11)]
    assert named(env, "pyyaml") == [("", None, 19)]
    assert named(env, "flash-attn") == [("", None, 40)]
    assert named(env, "deepspeed") == [("==0.14.5", None, 37)]
    assert [why for why, _ in env.unread] == [
        "7 conda packages that are not Python (aria2, gcc, git, hhsuite, hmmer, ...)"
    ]


def test_spleeter_tensorflow_gpu_is_tensorflow() -> None:
    env = read("spleeter/spleeter-gpu.yaml")
    (tensorflow,) = [r for r in env.requirements if r.name == "tensorflow"]
    assert (str(tensorflow.specifier), tensorflow.location.line, tensorflow.source) == (
        "==1.14.0.*",
        9,
        "conda (tensorflow-gpu)",
    )
    assert env.python == "3.7" and env.system_cuda is None
    assert named(env, "pandas") == [("==0.25.1", None, 11)]
    assert named(env, "spleeter") == [("", None, 18)]


def test_cuml_cuda_version_129_ranges_and_native_packages() -> None:
    env = read("cuml/all_cuda-129_arch-x86_64.yaml")
    assert env.channels == ("rapidsai-nightly", "rapidsai", "conda-forge")
    assert (env.system_cuda, env.system_cuda_at.line if env.system_cuda_at else None) == ("12.9", 16)
    assert (env.python, env.python_specifier) == (None, SpecifierSet(">=3.10,<3.14"))
    assert named(env, "cudf") == [("==26.2.*,>=0.0.0a0", None, 17)]
    assert named(env, "matplotlib") == [("", None, 41)]
    assert named(env, "cuda-python") == [("<13.0,>=12.9.2", None, 15)]
    assert named(env, "nvidia-ml-py") == [(">=12", None, 50)]
    assert not named(env, "cmake") and not named(env, "libcublas-dev") and not named(env, "doxygen")
    assert len(env.requirements) == 50
    (note,) = env.unread
    assert note[0].startswith("20 conda packages that are not Python (c-compiler, ccache, cmake, cuda-cudart-dev, ")


def test_paris_a_conda_env_export_with_builds_and_its_pip_freeze() -> None:
    env = read("paris/environment.yml")
    assert (env.python, env.system_cuda) == ("3.9.13", "11.3")
    assert named(env, "torch") == [("==1.11.0", "cu113", 76)]
    assert named(env, "torchvision") == [("==0.12.0", "cu113", 89)]
    assert named(env, "numpy") == [("==1.23.3", None, 60)]
    assert named(env, "pytorch3d") == [("==0.7.4", None, 78)]
    assert named(env, "mkl-fft") == [("==1.3.1", None, 55)]
    assert len(env.requirements) == 191
    (note,) = env.unread
    assert note[0].startswith("47 conda packages that are not Python (_libgcc_mutex, _openmp_mutex, blas, ")


def test_paris_conda_list_explicit() -> None:
    env = read("paris/spec-file.txt")
    assert (env.python, env.system_cuda) == ("3.9.13", "11.3")
    (torch,) = [r for r in env.requirements if r.name == "torch"]
    assert (str(torch.specifier), torch.variant, torch.location.line) == ("==1.11.0", "cu113", 75)
    assert torch.source == "conda channel pytorch (build py3.9_cuda11.3_cudnn8.2.0_0)"
    assert torch.text == "pytorch-1.11.0-py3.9_cuda11.3_cudnn8.2.0_0.tar.bz2"
    assert named(env, "pyyaml") == [("==6.0", None, 76)]
    assert set(env.channels) == {"bottler", "plotly", "defaults", "pytorch", "conda-forge", "iopath", "pytorch3d"}
    assert len(env.requirements) == 37


def test_xview2_conda_lock_md5_hashes_conda_forge_cuda_111_and_cudnn() -> None:
    env = read("xview2/conda-linux-64.lock")
    assert (env.python, env.system_cuda, env.system_cudnn) == ("3.7.12", "11.1", "8.2.1.32")
    # pytorch and its pytorch-gpu metapackage are one install: one requirement.
    (torch,) = [r for r in env.requirements if r.name == "torch"]
    assert (str(torch.specifier), torch.variant, torch.hashes) == (
        "==1.10.0",
        "cu111",
        ("md5:6edb792d90719a1b2075dc5b3b339420",),
    )
    assert named(env, "torchvision") == [("==0.10.1", "cu111", 287)]
    assert named(env, "opencv-python") == [("==4.5.3", None, 284)]
    assert all(r.hashes for r in env.requirements)
    assert env.channels == ("conda-forge", "esri")


def test_pose_guided_conda_list_export_with_pip_installed_packages() -> None:
    env = read("pose-guided-diffusion/package-list.txt")
    assert (env.python, env.system_cuda) == ("3.11.5", "11.8")
    assert named(env, "torch") == [("==2.1.1", "cu118", 141)]
    assert named(env, "torchvision") == [("==0.16.1", "cu118", 169)]
    assert named(env, "triton") == [("==2.1.0", None, 168)]  # the pytorch channel's torchtriton
    # What pip installed (=pypi_0) is a PyPI requirement, from no conda channel.
    (transformers,) = [r for r in env.requirements if r.name == "transformers"]
    assert (str(transformers.specifier), transformers.source) == ("==4.35.2", None)
    assert len(env.requirements) == 98


@pytest.mark.parametrize(
    "name",
    ["stable-diffusion/environment.yaml", "dinov2/conda.yaml", "openfold/environment.yml", "paris/environment.yml"],
)
def test_environment_files_are_told_from_other_yaml(name: str) -> None:
    assert looks_like_environment_yml((FIXTURES / name).read_text(encoding="utf-8"))
    assert not looks_like_conda_list((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name", ["paris/spec-file.txt", "xview2/conda-linux-64.lock", "pose-guided-diffusion/package-list.txt"]
)
def test_conda_list_output_is_told_from_a_requirements_file(name: str) -> None:
    assert looks_like_conda_list((FIXTURES / name).read_text(encoding="utf-8"))


def test_neither_detector_takes_a_workflow_or_a_requirements_file() -> None:
    workflow = "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
    assert not looks_like_environment_yml(workflow)
    assert not looks_like_conda_list("numpy==1.26.4\ntorch==2.1.0\n")


def test_conda_list_table_output() -> None:
    text = (
        "# packages in environment at /opt/conda/envs/tf:\n#\n"
        "# Name                    Version                   Build  Channel\n"
        "cudatoolkit               11.2.2              hbe64b41_10    conda-forge\n"
        "cudnn                     8.1.0.77             h90431f1_0    conda-forge\n"
        "numpy                     1.23.5                   pypi_0    pypi\n"
        "python                    3.9.16          h2782a2a_0_cpython    conda-forge\n"
        "tensorflow                2.11.0                   pypi_0    pypi\n"
    )
    env = parse_conda_list(text, "conda-list.txt")
    assert (env.python, env.system_cuda, env.system_cudnn) == ("3.9.16", "11.2", "8.1.0.77")
    assert [(r.name, str(r.specifier), r.source, r.location.line) for r in env.requirements] == [
        ("numpy", "==1.23.5", None, 6),
        ("tensorflow", "==2.11.0", None, 8),
    ]


# --- hostile input: one line naming the file (and line), never a traceback, in bounded time ---------

HOSTILE_YML = [
    ("dependencies: [numpy\n", "not valid YAML", 2),
    ("name: x\ndependencies:\n\t- numpy\n", "not valid YAML", 3),
    ("- numpy\n- scipy\n", "expected a mapping", None),
    ("dependencies: numpy\n", "'dependencies' is not a list", None),
    ("dependencies:\n  - 3\n", "a dependency is not a conda spec: '3'", None),
    ("dependencies:\n  - pip: numpy\n", "the 'pip:' section is not a list", None),
    ("dependencies:\n  - numpy: 1\n", "a mapping other than 'pip:'", None),
    ("channels: conda-forge\ndependencies: []\n", "'channels' is not a list", None),
    ('dependencies:\n  - "=1.2"\n', "names no conda package", 2),
    # An escaped item is not found in the text as written: the error names the file, without a line.
    ('dependencies:\n  - "numpy\\x1b[31m"\n', "holds a control character", None),
    ("dependencies:\n  - numpy=1" + "1" * 500 + "\n", "not a version", 2),
    ("dependencies:\n  - numpy=" + "1." * 300 + "\n", "not a spec", 2),
    ("dependencies: !!python/object/apply:os.system ['true']\n", "not valid YAML", 1),
    ("name: 1" + "1" * 5000 + "\ndependencies: []\n", "not usable YAML", None),
    ("dependencies: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deep", None),
    ("dependencies:\n  - numpy\x07\n", "not valid YAML", None),
]


@pytest.mark.parametrize(("text", "expected", "line"), HOSTILE_YML)
def test_hostile_environment_files(text: str, expected: str, line: int | None) -> None:
    with pytest.raises(InputError) as caught:
        parse_environment_yml(text, "environment.yml")
    message = str(caught.value)
    assert expected in message and "\n" not in message and "\x1b" not in message and "\x07" not in message
    assert caught.value.path == "environment.yml" and caught.value.line == line


def test_a_huge_environment_file_is_refused_unread() -> None:
    text = "dependencies:\n" + "  - numpy\n" * (MAX_YAML_BYTES // 10 + 1)
    with pytest.raises(InputError, match="larger than"):
        parse_environment_yml(text, "environment.yml")


def test_aliases_cannot_blow_the_reader_up() -> None:
    # A billion laughs: each level nine aliases of the one before. safe_load shares them; the reader
    # looks only at 'dependencies', whose items are no specs.
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = "\n".join(levels) + "\nchannels: *a9\ndependencies: *a9\n"
    started = time.monotonic()
    with pytest.raises(InputError, match="'channels' is not a list of channel names"):
        parse_environment_yml(text, "environment.yml")
    assert time.monotonic() - started < 5


def test_long_runs_of_spaces_stay_linear() -> None:
    text = "dependencies:\n  - " + " " * 300_000 + "numpy\n  - pip:\n    - '" + " " * 300_000 + "x'\n"
    started = time.monotonic()
    env = parse_environment_yml(text, "environment.yml")
    assert time.monotonic() - started < 5
    assert [r.name for r in env.requirements] == ["numpy"]
    assert [why for why, _ in env.unread] == ["a pip line of 300,001 characters"]


def test_an_empty_environment_file_is_an_empty_environment() -> None:
    assert parse_environment_yml("", "environment.yml").requirements == ()
    assert parse_environment_yml("name: empty\n", "environment.yml").name == "empty"


HOSTILE_LISTS = [
    ("@EXPLICIT\nnot-a-url\n", "not a conda package URL", 2),
    ("@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/linux-64/numpy.tar.bz2\n", "not a conda package URL", 2),
    ("@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/linux-64/numpy-1.0-0.conda#abc\n", "not an md5 or sha256", 2),
    ("# platform: linux-64\n=1.2=0\n", "names no conda package", 2),
    ("# platform: linux-64\nnumpy=1.2=py39_0\x1b]0;x\x07\n", "control character", 2),
    ("# packages in environment at /x:\nnumpy\n", "not a row of conda list", 2),
    (
        "# platform: linux-64\n" + "numpy=1.0=py39_0\n" * (2 * MAX_REQUIREMENTS + 1),
        "lines: not a conda package list",
        None,
    ),
]


@pytest.mark.parametrize(("text", "expected", "line"), HOSTILE_LISTS)
def test_hostile_conda_lists(text: str, expected: str, line: int | None) -> None:
    with pytest.raises(InputError) as caught:
        parse_conda_list(text, "spec-file.txt")
    assert expected in str(caught.value) and "\n" not in str(caught.value) and "\x1b" not in str(caught.value)
    assert caught.value.line == line


def test_a_sha256_in_an_explicit_list_is_the_requirements_hash() -> None:
    digest = "a" * 64
    text = f"@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/noarch/tqdm-4.66.1-pyhd8ed1ab_0.conda#sha256:{digest}\n"
    (tqdm,) = parse_conda_list(text, "spec-file.txt").requirements
    assert (tqdm.name, str(tqdm.specifier), tqdm.hashes) == ("tqdm", "==4.66.1", (f"sha256:{digest}",))


# --- end to end, through the CLI: these need the loader to know the kinds -------------------------

LINUX = ["--os", "linux", "--arch", "x86_64"]


def test_cli_openfold_torch_cu124_from_pytorch_cuda_needs_a_newer_driver(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", str(FIXTURES / "openfold/environment.yml"), *LINUX, "--driver", "450.80.02", "--gpu", "8.0"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "environment.yml:34: error ED101 (driver-too-old): torch" in out and "cu124" in out
    assert "environment.yml:40: error ED101" in out  # flash-attn, from the pip section


def test_cli_openfold_flash_attn_from_the_pip_section_has_no_kernels_for_a_pascal_gpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["audit", str(FIXTURES / "openfold/environment.yml"), *LINUX, "--driver", "535.104.05", "--gpu", "6.0"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "environment.yml:40: error ED102 (gpu-arch-unsupported): flash-attn" in out
    assert "info ED900 (not-judged): not read: 7 conda packages that are not Python" in out


def test_cli_conda_export_torch_cu118_on_a_cuda_10_driver(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "pose-guided-diffusion/package-list.txt"
    code = main(["audit", str(path), *LINUX, "--driver", "418.87.01", "--gpu", "8.0"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "package-list.txt:141: error ED101 (driver-too-old): torch 2.1.1 (cu118 build" in out


def test_cli_the_environments_python_is_the_python_judged(capsys: pytest.CaptureFixture[str]) -> None:
    # No --python: the environment brings Python 3.7.12, whose wheels torch 1.10.0 has.
    code = main(
        ["audit", str(FIXTURES / "xview2/conda-linux-64.lock"), *LINUX, "--driver", "535.104.05", "--gpu", "8.0"]
    )
    out = capsys.readouterr().out
    assert "python-unsupported" not in out, out
    assert code in (0, 1)


@pytest.mark.parametrize("name", sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*")))
def test_cli_every_fixture_audits_without_exit_2(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", str(FIXTURES / name), *LINUX, "--python", "3.10", "--driver", "535.104.05", "--gpu", "8.0"])
    captured = capsys.readouterr()
    assert code in (0, 1), captured.err
    assert "Traceback" not in captured.err


def test_the_pip_section_includes_files_beside_the_environment_file(tmp_path: Path) -> None:
    # conda writes the pip lines into a file beside environment.yml and runs pip from that folder.
    (tmp_path / "requirements.txt").write_text("accelerate==0.24.1\n", encoding="utf-8")
    environment = tmp_path / "environment.yml"
    environment.write_text(
        "dependencies:\n  - python=3.11\n  - pip:\n    - --extra-index-url=https://download.pytorch.org/whl/cu121\n"
        "    - -r requirements.txt\n",
        encoding="utf-8",
    )
    env = parse_environment_yml(environment.read_text(encoding="utf-8"), str(environment))
    (accelerate,) = env.requirements
    assert (accelerate.name, accelerate.location) == ("accelerate", Location(str(tmp_path / "requirements.txt"), 1))
    assert env.indexes.extra_index_urls == ("https://download.pytorch.org/whl/cu121",)
    assert [(item.path, item.kind) for item in env.inputs] == [
        (str(environment), "conda"),
        (str(tmp_path / "requirements.txt"), "requirements"),
    ]


def test_the_environments_cuda_is_what_tensorflow_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # tensorflow.toml tested: TensorFlow 2.15 was built and tested with CUDA 12.2 and loads it from
    # the system; the environment's cudatoolkit=11.2 gives it CUDA 11 libraries only, so it runs on
    # the CPU (a warning: it still runs).
    (tmp_path / "environment.yml").write_text(
        "name: tf\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.10\n  - cudatoolkit=11.2\n"
        "  - pip\n  - pip:\n    - tensorflow==2.15.0\n"
    )
    host = ["--os", "linux", "--arch", "x86_64", "--driver", "535.104.05", "--gpu", "8.0", "--format", "json"]
    main(["audit", str(tmp_path / "environment.yml"), *host])
    report = json.loads(capsys.readouterr().out)
    (finding,) = [f for f in report["findings"] if f["code"] == "ED201"]
    assert finding["severity"] == "warning" and finding["location"]["line"] == 6
    assert "CUDA 11.2" in finding["message"] and "CUDA 12.2" in finding["message"]


def test_a_python_range_is_conda_s_to_pick_not_the_hosts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # releases: numpy 1.21.6 has no wheel for Python 3.12. With python>=3.8, conda picks a Python
    # numpy 1.21.6 installs on; judging it on the host's 3.12 would be a false python-unsupported.
    (tmp_path / "environment.yml").write_text(
        "name: e\ndependencies:\n  - python>=3.8\n  - pip\n  - pip:\n    - numpy==1.21.6\n"
    )
    main(["audit", str(tmp_path / "environment.yml"), "--os", "linux", "--arch", "x86_64", "--python", "3.12"])
    out = capsys.readouterr().out
    assert "ED302" not in out
    (tmp_path / "environment.yml").write_text(
        "name: e\ndependencies:\n  - python=3.12\n  - pip\n  - pip:\n    - numpy==1.21.6\n"
    )
    main(["audit", str(tmp_path / "environment.yml"), "--os", "linux", "--arch", "x86_64", "--python", "3.10"])
    assert "ED302" in capsys.readouterr().out  # the environment's own 3.12, not the host's 3.10


# --- fixes written in conda's dialect (conda_fix.py), and environments a host cannot create -------

GPU_LINUX = [*LINUX, "--driver", "450.80.02", "--gpu", "8.0"]


def test_cli_openfold_torch_fix_is_written_as_conda_specs_and_the_pip_sections_as_pip(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Linux GPU host whose driver runs CUDA 11 only: torch (pytorch::pytorch-cuda=12.4) needs a
    # CUDA 11.8 build, which the pytorch channel selects with pytorch-cuda=11.8; flash-attn, from
    # the pip section, keeps pip's fix.
    code = main(["audit", str(FIXTURES / "openfold/environment.yml"), *GPU_LINUX])
    out = capsys.readouterr().out
    assert code == 1, out
    (torch_fix,) = [line for line in out.splitlines() if "pytorch-cuda=11.8" in line]
    assert "fix: install the CUDA 11.8 build (pytorch=2.5.1 pytorch-cuda=11.8 -c pytorch -c nvidia)" in torch_fix
    assert "download.pytorch.org" not in out and "torch==2.5.1+cu118" not in out
    assert "fix: install flash-attn==2.7.3 (a CUDA 11 build)" in out


def _audit(tmp_path: Path, text: str, host: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    (tmp_path / "environment.yml").write_text(text, encoding="utf-8")
    main(["audit", str(tmp_path / "environment.yml"), *host])
    return capsys.readouterr().out


def test_a_pytorch_channel_fix_moves_the_companions_with_conda_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "channels:\n  - pytorch\n  - nvidia\ndependencies:\n  - python=3.10\n  - pytorch=2.1.0\n"
        "  - torchvision=0.16.0\n  - pytorch-cuda=12.1\n  - pip\n  - pip:\n    - transformers==4.35.2\n"
    )
    out = _audit(tmp_path, text, [*LINUX, "--driver", "470.57.02", "--gpu", "8.0"], capsys)
    assert (
        "fix: install the CUDA 11.8 build (pytorch=2.1.0 torchvision=0.16.0 pytorch-cuda=11.8 -c pytorch -c nvidia)"
        in out
    ), out


def test_a_conda_forge_fix_selects_cuda_by_build_string_and_cuda_version(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "channels:\n  - conda-forge\ndependencies:\n  - python=3.11\n"
        "  - conda-forge::pytorch=2.1.2=cuda120_py311h25b6552_301\n"
    )
    out = _audit(tmp_path, text, [*LINUX, "--driver", "470.57.02", "--gpu", "8.0"], capsys)
    assert "fix: install the CUDA 11 build (pytorch=2.1.2=cuda* cuda-version=11 -c conda-forge)" in out, out
    assert "download.pytorch.org" not in out


def test_the_dialect_of_a_requirement_is_chosen_from_where_it_came_from() -> None:
    env = read("openfold/environment.yml")
    torch = next(r for r in env.requirements if r.name == "torch")
    flash = next(r for r in env.requirements if r.name == "flash-attn")
    assert dialect_of(torch) == Dialect(conda=True, channel="pytorch")
    assert dialect_of(flash) == PIP  # the pip: section
    explicit = read("paris/spec-file.txt")
    assert dialect_of(next(r for r in explicit.requirements if r.name == "torch")).channel == "pytorch"
    listed = read("pose-guided-diffusion/package-list.txt")
    assert dialect_of(next(r for r in listed.requirements if r.name == "transformers")) == PIP  # pypi_0
    forge = read_conda_specs([("pytorch=2.1.2=cuda118_py310h7dd3b6f_300", HERE)], (), "environment.yml")
    assert dialect_of(forge.requirements[0]) == Dialect(conda=True, channel="conda-forge")


CONDA_SPECS = [
    ("torch==2.5.1+cu118", "pytorch=2.5.1"),
    ("torchvision==0.20.1+cu118", "torchvision=0.20.1"),
    ("numpy<2", "numpy<2"),
    ("torch>=2.4", "pytorch>=2.4"),
    ("torch==2.1.*", "pytorch=2.1"),
    ("numpy>=1.24,<2", "numpy<2,>=1.24"),
    ("opencv-python==4.8.0.74", "opencv=4.8.0.74"),
    ("graphviz>=0.20", "python-graphviz>=0.20"),  # conda's graphviz is the C tool
    ("xformers==0.0.22 from https://download.pytorch.org/whl/cu118", "xformers=0.0.22"),
]


@pytest.mark.parametrize(("pin", "spec"), CONDA_SPECS)
def test_a_pip_pin_as_a_conda_spec(pin: str, spec: str) -> None:
    assert conda_spec(pin) == spec


def test_a_requirement_style_fix_speaks_the_requirements_dialect() -> None:
    env = read("openfold/environment.yml")
    torch = next(r for r in env.requirements if r.name == "torch")
    deepspeed = next(r for r in env.requirements if r.name == "deepspeed")
    assert speak("torch<2.5", torch) == "pytorch<2.5"
    assert speak("deepspeed>=0.15", deepspeed) == "deepspeed>=0.15"


def test_how_each_channel_selects_a_build_of_torch() -> None:
    pytorch_118 = torch_selection("2.5.1", "cu118", "11.8", "pytorch")
    assert pytorch_118 is not None and pytorch_118.specs == ("pytorch-cuda=11.8",)
    assert pytorch_118.channels == ("pytorch", "nvidia")
    old = torch_selection("1.12.1", "cu113", "11.3", "pytorch")  # before pytorch-cuda: cudatoolkit
    assert old is not None and old.specs == ("cudatoolkit=11.3",)
    cpu = torch_selection("2.1.0", "cpu", None, "pytorch")
    assert cpu is not None and cpu.specs == ("cpuonly",)
    # The pytorch channel has no release after 2.5.1: conda-forge's way instead, said so.
    newer = torch_selection("2.6.0", "cu126", "12.6", "pytorch")
    assert newer is not None and newer.channels == ("conda-forge",) and "last pytorch is 2.5.1" in newer.note
    assert newer.build == "cuda*" and newer.specs == ("cuda-version=12",)
    assert torch_selection("2.1.0", "cu118", "11.8", None) is None  # a channel whose way is not known


# Part B: a Mac cannot create an environment that names pytorch-cuda or cudatoolkit.

MAC_ARM, MAC_INTEL = ("macos", "arm64"), ("macos", "x86_64")


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("openfold/environment.yml", "pytorch::pytorch-cuda=12.4"),
        ("dinov2/conda.yaml", "pytorch::pytorch-cuda=11.7.0"),
        ("stable-diffusion/environment.yaml", "cudatoolkit=11.3"),
        ("stylegan3/environment.yml", "cudatoolkit=11.1"),
    ],
)
def test_an_environment_with_cuda_packages_cannot_be_created_on_a_mac(name: str, spec: str) -> None:
    env = read(name)
    (limit,) = [limit for limit in env.platforms if limit[0] == spec]
    for host in (MAC_ARM, MAC_INTEL):
        found = cannot_create(limit, *host)
        assert found is not None
        message, fix = found
        assert f"conda package '{spec}' has no build for osx-" in message and "cannot create" in message
        assert "linux-64" in fix
    assert limit[2].startswith("https://anaconda.org/")
    assert all(cannot_create(limit, "linux", "x86_64") is None for limit in env.platforms)  # the Linux GPU host


def test_the_pytorch_channels_pytorch_on_an_intel_mac_ends_at_2_2_2() -> None:
    env = read_conda_specs([("pytorch::pytorch=2.4.0", HERE), ("cpuonly", HERE)], (), "environment.yml")
    (limit,) = env.platforms
    assert cannot_create(limit, *MAC_INTEL) is not None
    assert cannot_create(limit, *MAC_ARM) is None
    # conda-forge's pytorch, and cuda-version (noarch), install on a Mac.
    forge = read_conda_specs([("conda-forge::pytorch=2.4.0", HERE), ("cuda-version=12.4", HERE)], (), "e.yml")
    assert forge.platforms == ()


def test_a_cudatoolkit_without_a_version_may_be_an_old_osx_64_build() -> None:
    env = read_conda_specs([("cudatoolkit", HERE)], (), "environment.yml")
    (limit,) = env.platforms
    assert cannot_create(limit, *MAC_INTEL) is None  # Anaconda's cudatoolkit had osx-64 files up to 9.0
    assert cannot_create(limit, *MAC_ARM) is not None


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_cli_openfold_on_a_mac_is_an_environment_conda_cannot_create(
    arch: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["audit", str(FIXTURES / "openfold/environment.yml"), "--os", "macos", "--arch", arch])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "environment.yml:35: error ED301 (platform-unsupported): conda package 'pytorch::pytorch-cuda=12.4'" in out


def test_what_conda_installs_is_not_judged_by_pypis_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # CompVis/latent-diffusion's environment shape: pytorch=1.7.0 and numpy=1.19.2 come from conda's
    # channels, whose builds are not PyPI's wheels; what the pip section installs still is PyPI's.
    (tmp_path / "environment.yml").write_text(
        "name: ldm\nchannels: [pytorch, defaults]\ndependencies:\n  - python=3.8.5\n  - pytorch=1.7.0\n"
        "  - numpy=1.19.2\n  - pip\n  - pip:\n    - numpy==1.19.2\n"
    )
    main(["audit", str(tmp_path / "environment.yml"), "--os", "macos", "--arch", "arm64", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    lines = {f["location"]["line"] for f in findings if f["code"] in ("ED301", "ED302")}
    assert 5 not in lines and 6 not in lines  # the conda specs
    assert 9 in lines  # the pip section's numpy 1.19.2: no macOS arm64 wheel, an sdist to build
