"""Hostile and broken project files (issue 11): pyproject.toml, pylock.toml and [tool.envdoctor],
each run through the command a user would type. The promise: a correct result, or one line
naming the file (and line where known) with exit 2; never a traceback, never a hang."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.cli_fuzzer import HOST_FLAGS, ROOT, Case, Outcome, offline, run_case

BIG = "1" * 5000
DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_TABLE = "{a = " * 5000 + "1" + "}" * 5000
HUGE_VALUES = {"deep array": DEEP_ARRAY, "deep inline table": DEEP_TABLE, "5000-digit integer": BIG}
SMALL = ROOT / "tests/fixtures/images/small"
ICARUS = (ROOT / "examples/icarus/requirements.txt").read_text(encoding="utf-8")


def run(folder: Path, files: dict[str, str], *argv: str) -> Outcome:
    """``envdoctor ARGV`` in ``folder`` (the current directory), with ``files`` written there first."""
    assert Path.cwd() == folder
    written = tuple((name, text.encode("utf-8")) for name, text in files.items())
    with offline():
        return run_case(Case("test", 0, "test", written, tuple(argv)), folder)


def refused(outcome: Outcome, name: str, *words: str) -> None:
    """Exit 2 with one short line naming ``name``, that says each of ``words``."""
    assert outcome.problems() == [], outcome.stderr
    assert outcome.code == 2, outcome.stdout + outcome.stderr
    assert outcome.stderr.startswith(f"envdoctor: error: {name}"), outcome.stderr
    assert len(outcome.stderr) < 400, outcome.stderr
    for word in words:
        assert word in outcome.stderr


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pyproject(dependencies: list[str], extra: str = "") -> str:
    quoted = ", ".join(json.dumps(dependency) for dependency in dependencies)
    return f'[project]\nname = "p"\nversion = "1"\ndependencies = [{quoted}]\n{extra}'


# 1. TOML nested thousands deep or holding a number of thousands of digits.


@pytest.mark.parametrize("value", list(HUGE_VALUES.values()), ids=list(HUGE_VALUES))
def test_huge_toml_in_pyproject(folder: Path, value: str) -> None:
    files = {"pyproject.toml": pyproject(["six"], f"[tool.other]\nx = {value}\n")}
    outcome = run(folder, files, "audit", "pyproject.toml", *HOST_FLAGS)
    refused(outcome, "pyproject.toml")


@pytest.mark.parametrize("value", list(HUGE_VALUES.values()), ids=list(HUGE_VALUES))
def test_huge_toml_in_pylock(folder: Path, value: str) -> None:
    text = (SMALL / "pylock.linux-x86_64-py3.11.toml").read_text(encoding="utf-8")
    outcome = run(folder, {"pylock.toml": f"x = {value}\n{text}"}, "audit", "pylock.toml", *HOST_FLAGS)
    refused(outcome, "pylock.toml")


@pytest.mark.parametrize("value", list(HUGE_VALUES.values()), ids=list(HUGE_VALUES))
def test_huge_toml_in_the_pylock_beside_a_lock(folder: Path, value: str) -> None:
    lock, pylock = "requirements.linux-x86_64-py3.11.txt", "pylock.linux-x86_64-py3.11.toml"
    files = {
        lock: (SMALL / lock).read_text(encoding="utf-8"),
        pylock: f"x = {value}\n" + (SMALL / pylock).read_text(encoding="utf-8"),
    }
    refused(run(folder, files, "dockerfile", lock, "-o", "out", *HOST_FLAGS), pylock)


@pytest.mark.parametrize("value", list(HUGE_VALUES.values()), ids=list(HUGE_VALUES))
def test_huge_toml_in_the_working_folders_pyproject(folder: Path, value: str) -> None:
    """[tool.envdoctor] is read from the working folder by every audit, whatever it audits."""
    files = {"requirements.txt": ICARUS, "pyproject.toml": f'[tool.envdoctor]\nignore = ["ED101"]\nx = {value}\n'}
    refused(run(folder, files, "audit", "requirements.txt", *HOST_FLAGS), "pyproject.toml")


def test_a_toml_syntax_error_keeps_its_line(folder: Path) -> None:
    files = {"pyproject.toml": '[project]\nname = "p"\n\ndependencies = [\n  "six",\n  ]]\n'}
    outcome = run(folder, files, "audit", "pyproject.toml", *HOST_FLAGS)
    refused(outcome, "pyproject.toml:6: not valid TOML")


# 2. Dependency groups (PEP 735): deep chains, diamonds, cycles.


def chain(depth: int) -> str:
    """g0 includes g1 includes ... g<depth>, each naming one package of its own."""
    lines = [f'g{n} = ["pkg-{n}", {{include-group = "g{n + 1}"}}]' for n in range(depth)]
    return "[dependency-groups]\n" + "\n".join(lines) + f'\ng{depth} = ["pkg-{depth}"]\n'


def diamond(depth: int) -> str:
    """Each group includes the next twice: 2**depth paths to the last group."""
    twice = "{{include-group = 'd{0}'}}, {{include-group = 'd{0}'}}"
    lines = [f'd{n} = ["pkg-{n}", {twice.format(n + 1)}]' for n in range(depth)]
    return "[dependency-groups]\n" + "\n".join(lines) + f'\nd{depth} = ["pkg-{depth}"]\n'


def test_a_2000_deep_include_group_chain_is_read_whole(folder: Path) -> None:
    from envdoctor.requirements import SourceOptions, load_requirement_set

    files = {"pyproject.toml": pyproject(["six"], chain(2000))}
    outcome = run(folder, files, "audit", "pyproject.toml", "--group", "g0", *HOST_FLAGS)
    assert outcome.problems() == [] and outcome.code in (0, 1), outcome.stderr
    found = load_requirement_set(["pyproject.toml"], SourceOptions(groups=("g0",)))
    assert [r.name for r in found.requirements] == ["six"] + [f"pkg-{n}" for n in range(2001)]
    assert [r.location.line for r in found.requirements[1::1000]] == [6, 1006, 2006]


def test_a_diamond_of_include_groups_reads_each_group_once(folder: Path) -> None:
    from envdoctor.requirements import SourceOptions, load_requirement_set

    files = {"pyproject.toml": pyproject([], diamond(30))}
    started = time.perf_counter()
    outcome = run(folder, files, "audit", "pyproject.toml", "--group", "d0", "--group", "d5", *HOST_FLAGS)
    assert outcome.problems() == [] and outcome.code in (0, 1), outcome.stderr
    assert time.perf_counter() - started < 5
    found = load_requirement_set(["pyproject.toml"], SourceOptions(groups=("d0", "d5")))
    assert [r.name for r in found.requirements] == [f"pkg-{n}" for n in range(31)]


@pytest.mark.parametrize(
    ("groups", "words"),
    [
        ('a = [{include-group = "a"}]', ("'a' includes itself",)),
        ('a = ["six", {include-group = "b"}]\nb = [{include-group = "a"}]', ("'a' includes itself",)),
        (chain(1500).replace('g1500 = ["pkg-1500"]', 'g1500 = [{include-group = "g0"}]'), ("'g0' includes itself",)),
        ('a = [{include-group = "nowhere"}]', ("dependency-groups.a", "no group named 'nowhere'")),
        ("a = [{include-group = 1}]", ("dependency-groups.a", "include-group")),
        ('a = [{include-group = "a", also = 1}]', ("dependency-groups.a", "include-group")),
        ("a = 1", ("dependency-groups.a must be a list",)),
    ],
    ids=["self", "pair", "1500-long cycle", "missing", "not a name", "extra key", "not a list"],
)
def test_bad_dependency_groups_are_one_line(folder: Path, groups: str, words: tuple[str, ...]) -> None:
    if not groups.startswith("[dependency-groups]"):
        groups = f"[dependency-groups]\n{groups}\n"
    group = "g0" if "g0" in groups else "a"
    outcome = run(
        folder, {"pyproject.toml": pyproject([], groups)}, "audit", "pyproject.toml", "--group", group, *HOST_FLAGS
    )
    refused(outcome, "pyproject.toml", *words)


def test_dependency_groups_that_are_not_a_table(folder: Path) -> None:
    files = {"pyproject.toml": 'dependency-groups = 1\n[project]\nname = "p"\n'}
    refused(run(folder, files, "audit", "pyproject.toml", "--group", "a", *HOST_FLAGS), "pyproject.toml", "table")


# 3. [tool.envdoctor] of any shape, in the working folder's pyproject.toml.

BAD_CONFIGS = {
    "tool = 1": ("tool = 1\n", "tool must be a table"),
    "tool = []": ("tool = [1, 2]\n", "tool must be a table"),
    'tool.envdoctor = "x"': ('tool.envdoctor = "x"\n', "[tool.envdoctor] must be a table"),
    "ignore = 5": ("[tool.envdoctor]\nignore = 5\n", "ignore must be"),
    "ignore = [1]": ("[tool.envdoctor]\nignore = [1]\n", "ignore must be"),
    'fail-on = "bogus"': ('[tool.envdoctor]\nfail-on = "bogus"\n', "fail-on must be"),
    "fail-on = 1": ("[tool.envdoctor]\nfail-on = 1\n", "fail-on must be"),
    "fail-on = []": ("[tool.envdoctor]\nfail-on = []\n", "fail-on must be"),
    "host = [1]": ("[tool.envdoctor]\nhost = [1]\n", "host must be"),
    "host = {}": ("[tool.envdoctor]\nhost = {}\n", "host must be"),
    "host with NUL": ('[tool.envdoctor]\nhost = "a\\u0000b.json"\n', "control character"),
    "ignore with ESC": ('[tool.envdoctor]\nignore = ["\\u001b]0;x\\u0007"]\n', "control character"),
    "unknown key": ("[tool.envdoctor]\n" + "".join(f"k{n} = 1\n" for n in range(100)), "unknown key"),
}


@pytest.mark.parametrize(("text", "words"), list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS))
@pytest.mark.parametrize("command", ["audit", "lock --check"])
def test_a_bad_tool_envdoctor_is_one_line(folder: Path, text: str, words: str, command: str) -> None:
    files = {"requirements.txt": ICARUS, "pyproject.toml": text}
    outcome = run(folder, files, *command.split(), "requirements.txt", *HOST_FLAGS)
    refused(outcome, "pyproject.toml", words)
    assert "\x1b" not in outcome.stderr and "\x00" not in outcome.stderr


@pytest.mark.parametrize(("text", "words"), [BAD_CONFIGS["tool = 1"], BAD_CONFIGS["fail-on = 1"]])
def test_a_bad_tool_envdoctor_in_the_action(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str, words: str
) -> None:
    from envdoctor import github_action

    (folder / "requirements.txt").write_text(ICARUS)
    (folder / "pyproject.toml").write_text(text)
    for name in [name for name in os.environ if name.startswith(("ENVDOCTOR_", "GITHUB_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ENVDOCTOR_FILES", "requirements.txt")
    assert github_action.main(["audit"]) == 2
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("::error title=envdoctor::pyproject.toml") and words in out


def test_what_is_not_envdoctors_is_not_judged(folder: Path) -> None:
    """Another tool's table, or a [project] this command does not read, is no business of ours."""
    text = 'project = 1\n[tool]\nblack = 1\nother = "x"\n[tool.envdoctor]\nignore = ["ED101"]\n'
    files = {"requirements.txt": ICARUS, "pyproject.toml": text}
    outcome = run(folder, files, "audit", "requirements.txt", *HOST_FLAGS)
    assert outcome.problems() == [] and outcome.code == 1
    assert "ED101" not in outcome.stdout


# 4. Versions of thousands of digits.

ABSURD = {
    "pin": f"torch=={BIG}",
    "range": f"torch>=2,<{BIG}",
    "pin of a known release line": f"tensorflow==2.16.{BIG}",
    "local label": f"torch==2.1.0+{BIG}",
    "arbitrary equality": f"torch==={BIG}",
    "marker": f"torch==2.2.0; python_version > '{BIG}'",
    "200 digits": "jax==0.4." + "1" * 200,
    "long": "torch==" + "1." * 200 + "0",
}


@pytest.mark.parametrize("requirement", list(ABSURD.values()), ids=list(ABSURD))
def test_an_absurd_version_in_pyproject(folder: Path, requirement: str) -> None:
    outcome = run(folder, {"pyproject.toml": pyproject(["six", requirement])}, "audit", "pyproject.toml", *HOST_FLAGS)
    refused(outcome, "pyproject.toml:4: ", "marker" if "marker" in requirement else "version")


def test_an_absurd_version_in_a_dependency_group(folder: Path) -> None:
    groups = f'[dependency-groups]\ndev = [\n  "six",\n  "torch=={BIG}",\n]\n'
    files = {"pyproject.toml": pyproject([], groups)}
    outcome = run(folder, files, "audit", "pyproject.toml", "--group", "dev", *HOST_FLAGS)
    refused(outcome, "pyproject.toml:8: version", "5000 digits")


PYLOCK_PACKAGE = (
    '[[packages]]\nname = "torch"\nversion = "{version}"\n{more}'
    'wheels = [{{ name = "torch-{version}-py3-none-any.whl", '
    'url = "https://example.org/torch-{version}-py3-none-any.whl", '
    'hashes = {{ sha256 = "{digest}" }} }}]\n'
)


@pytest.mark.parametrize(
    ("version", "more"),
    [
        (BIG, ""),
        ("1" * 200, ""),
        ("2.2.0", f'requires-python = ">=3.{BIG}"\n'),
        ("2.2.0", f"marker = \"python_version > '{BIG}'\"\n"),
    ],
    ids=["5000 digits", "200 digits", "requires-python", "marker"],
)
def test_an_absurd_version_in_pylock(folder: Path, version: str, more: str) -> None:
    text = 'lock-version = "1.0"\ncreated-by = "x"\n\n' + PYLOCK_PACKAGE.format(
        version=version, more=more, digest="0" * 64
    )
    refused(run(folder, {"pylock.toml": text}, "audit", "pylock.toml", *HOST_FLAGS), "pylock.toml")


def test_the_version_checks_name_file_and_line() -> None:
    from packaging.specifiers import SpecifierSet

    from envdoctor.errors import InputError
    from envdoctor.requirements.versions import check_specifier, check_version

    assert check_version("2.1.0+cu121", "r.txt", 3) == "2.1.0+cu121"
    assert check_version("0.0.0.dev20240101123456", "r.txt", 3)
    with pytest.raises(InputError, match=r"^r\.txt:3: version '1{40}\.\.\.' holds a number of 5000 digits"):
        check_specifier(SpecifierSet(f">=1,<{BIG}"), "r.txt", 3)


def test_requirements_txt_refuses_an_absurd_version(folder: Path) -> None:
    """The requirements-file reader calls the same check (envdoctor.requirements.versions)."""
    files = {"requirements.txt": f"six\ntorch=={BIG}\n"}
    refused(run(folder, files, "audit", "requirements.txt", *HOST_FLAGS), "requirements.txt:2: version")
