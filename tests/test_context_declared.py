"""The context's jobs split out of it: following what the set's packages declare (rules/declared.py)
and evaluating markers where the set installs (rules/markers.py), with AuditContext the facade the
rules call. And a pulled-in requirement names the release its requirement was read from.

Facts the rows rest on (``envdoctor kb show``, the ``dependencies`` topic): accelerate's releases
declare torch>=2.0.0; torchvision 0.22.1 declares torch==2.7.1, whose PyPI Linux wheel declares
nvidia-*-cu12 wheels; tensorflow's and-cuda extra declares a dozen nvidia-*-cu12 wheels, none with
a macOS wheel.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from envdoctor.cli import main
from envdoctor.host.profile import HostProfile
from envdoctor.requirements import SourceOptions, load_requirement_set
from envdoctor.rules.candidates import HostFacts, candidates
from envdoctor.rules.context import AuditContext
from envdoctor.rules.markers import Markers

RULES = Path(__file__).resolve().parent.parent / "envdoctor" / "rules"
V100 = ["--os", "linux", "--arch", "x86_64", "--python", "3.10", "--driver", "470.82.01", "--gpu", "7.0"]
MAC = ["--os", "macos", "--arch", "arm64", "--python", "3.12"]
LINUX_312 = HostProfile(os="linux", arch="x86_64", python="3.12")


def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, host: list[str]) -> list[dict[str, object]]:
    path = tmp_path / "requirements.txt"
    path.write_text(text)
    assert main(["audit", str(path), *host, "--format", "json"]) in (0, 1)
    findings: list[dict[str, object]] = json.loads(capsys.readouterr().out)["findings"]
    return findings


def context(tmp_path: Path, text: str, host: HostProfile = LINUX_312) -> AuditContext:
    (tmp_path / "requirements.txt").write_text(text)
    return AuditContext(load_requirement_set([str(tmp_path / "requirements.txt")], SourceOptions()), host, "host")


# --- what a pulled-in requirement says it was required by --------------------------------------


def test_a_ranged_parent_is_named_by_the_release_its_requirement_was_read_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "torch>=2.0.0 (required by accelerate)" read as if every accelerate asked it; the requirement
    # is what one release (the newest that installs here) declares.
    findings = audit(tmp_path, capsys, "accelerate\n", V100)
    (driver,) = [f for f in findings if f["code"] == "ED101"]
    message = str(driver["message"])
    found = re.search(r"torch>=\S+ \(required by accelerate (?P<release>[^)\s]+)\)", message)
    assert found, message
    newest = candidates(canonicalize_name("accelerate"), SpecifierSet(), HostFacts("3.10", "linux", "x86_64", None))
    assert found["release"] == str(newest.newest)
    assert "(required by accelerate)" not in message


def test_an_exact_pin_is_named_as_the_set_writes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    findings = audit(tmp_path, capsys, "accelerate==1.13.0\n", V100)
    (driver,) = [f for f in findings if f["code"] == "ED101"]
    assert "(required by accelerate==1.13.0)" in str(driver["message"])


def test_the_packages_one_release_pulls_in_are_grouped_under_that_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    findings = audit(tmp_path, capsys, "tensorflow[and-cuda]\n", MAC)
    (platform,) = [f for f in findings if f["code"] == "ED301"]
    message = str(platform["message"])
    found = re.match(r"tensorflow (?P<release>\d+\.\d+\.\d+) pulls in \d+ packages", message)
    assert found, message
    assert f"(required by tensorflow {found['release']})" in message


def test_a_package_pulled_in_further_down_names_who_asks_it_and_the_sets_package(tmp_path: Path) -> None:
    # torchvision==0.22.1 -> torch==2.7.1 -> nvidia-*-cu12: torchvision declares none of them.
    pulled = {r.name: r.required_by for r in context(tmp_path, "torchvision==0.22.1\n").wanted() if r.required_by}
    assert pulled["torch"] == "torchvision==0.22.1"
    assert pulled["nvidia-cublas-cu12"] == "torch==2.7.1 via torchvision==0.22.1"


def test_a_ranged_package_further_down_is_named_by_its_release(tmp_path: Path) -> None:
    # accelerate==1.13.0 -> torch>=2.0.0 -> nvidia-*: named by the torch a fresh install gets here.
    ctx = context(tmp_path, "accelerate==1.13.0\n")
    pulled = {r.name: r.required_by for r in ctx.wanted() if r.required_by}
    assert pulled["torch"] == "accelerate==1.13.0"
    assert f"torch {ctx.version_of('torch')} via accelerate==1.13.0" in pulled.values()


# --- the split: one-way, the facade keeps its answers -------------------------------------------


def _runtime_imports(path: Path) -> set[str]:
    """Modules a file imports outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for child in block.body
        for node in ast.walk(child)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in checking:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", ["declared.py", "markers.py"])
def test_what_the_context_delegates_to_never_imports_the_context(module: str) -> None:
    assert "envdoctor.rules.context" not in _runtime_imports(RULES / module)


def test_the_markers_module_knows_nothing_of_declared_requirements() -> None:
    assert "envdoctor.rules.declared" not in _runtime_imports(RULES / "markers.py")


def test_the_context_answers_what_a_package_declares_through_the_facade(tmp_path: Path) -> None:
    # pandas 2.1.4 declares numpy<2 (its METADATA's numpy>=1.22.4,<2 for Python 3.11).
    ctx = context(tmp_path, "pandas==2.1.4\n", HostProfile(os="linux", arch="x86_64", python="3.11"))
    declared = ctx.declared_on("pandas", Version("2.1.4"), "numpy")
    assert not declared.contains("2.0.0") and declared.contains("1.26.4")


def test_the_marker_environment_is_the_callers_to_change(tmp_path: Path) -> None:
    ctx = context(tmp_path, "numpy\n")
    first = ctx.marker_environment()
    assert first is not None and first["python_full_version"] == "3.12.0"
    first["sys_platform"] = "win32"
    assert ctx.marker_environment() == {**first, "sys_platform": "linux"}


# --- markers where the host leaves facts unknown ------------------------------------------------

LINUX_NO_PYTHON = HostFacts(None, "linux", "x86_64", None)


@pytest.mark.parametrize(
    ("marker", "applies", "holds", "certain"),
    [
        ('sys_platform == "win32"', False, False, False),
        ('sys_platform == "linux"', True, True, True),
        ('python_version < "3.10"', True, True, False),  # Python unknown: some would, some not
        ('python_version >= "3.8"', True, True, True),
        ('platform_machine == "aarch64"', False, False, False),  # the machine is known
    ],
)
def test_a_marker_on_linux_with_an_unknown_python(marker: str, applies: bool, holds: bool, certain: bool) -> None:
    markers = Markers(LINUX_NO_PYTHON)
    assert markers.applies(Marker(marker)) is applies
    assert markers.holds(Marker(marker), frozenset()) is holds
    assert markers.certain(Marker(marker), frozenset()) is certain


def test_an_unknown_machine_takes_every_value_it_could_have() -> None:
    markers = Markers(HostFacts("3.11", "linux", None, None))
    assert markers.holds(Marker('platform_machine == "aarch64"'), frozenset())
    assert not markers.certain(Marker('platform_machine == "aarch64"'), frozenset())


def test_an_extra_holds_only_when_the_set_asks_for_it() -> None:
    markers = Markers(HostFacts("3.11", "linux", "x86_64", None))
    assert markers.certain(Marker('extra == "gpu"'), frozenset({"gpu"}))
    assert not markers.holds(Marker('extra == "gpu"'), frozenset())


def test_an_unknown_os_judges_every_line_and_is_certain_of_no_extra() -> None:
    markers = Markers(HostFacts(None, None, None, None))
    assert markers.environment is None and markers.applies(Marker('sys_platform == "win32"'))
    assert markers.certain(Marker('python_version < "3.10"'), frozenset())
    assert not markers.holds(Marker('extra == "gpu"'), frozenset({"gpu"}))


def test_the_hosts_full_python_is_used_but_never_for_an_image() -> None:
    host = Markers(HostFacts("3.11", "linux", "x86_64", None), host_python="3.11.4")
    image = Markers(HostFacts("3.10", "linux", "x86_64", None, "python:3.10"), host_python="3.11.4")
    assert host.environment is not None and host.environment["python_full_version"] == "3.11.4"
    assert image.environment is not None and image.environment["python_full_version"] == "3.10.0"
    assert not image.applies(Marker('python_full_version == "3.11.4"'))


# --- a fix re-judged against the set's pins and the host -----------------------------------------
# dependencies: opencv-python 4.12.0.88 declares numpy>=2,<2.3 on Python >= 3.9; 4.11.0.86 declares
# numpy>=1.23.5 on 3.11 and numpy>=1.26.0 on 3.12. releases: numpy 1.23 has no Python 3.12 wheels
# (pip would build it from source).
@pytest.mark.parametrize(
    ("text", "python", "fix", "said"),
    [
        ("opencv-python==4.12.0.88\n", "3.11", "numpy<2", "numpy<2, with opencv-python==4.11.0.86"),
        ("opencv-python==4.11.0.86\n", "3.11", "numpy<2", "numpy<2"),
        ("scipy==1.15.2\n", "3.12", "numpy<1.24", "numpy<1.24 (but no release it admits has a wheel for"),
        ("scipy==1.15.2\n", "3.12", "not a requirement", "not a requirement"),
    ],
)
def test_a_fix_is_rejudged_against_the_sets_pins_and_the_host(
    tmp_path: Path, text: str, python: str, fix: str, said: str
) -> None:
    ctx = context(tmp_path, text, HostProfile(os="linux", arch="x86_64", python=python))
    rejudged = ctx.rejudged_fix(fix)
    assert rejudged.startswith(said)
    if said == fix:
        assert rejudged == fix
