"""The report formats people and runners read: GitHub annotations (``--format github``), the
readable form of a finding's references in every human format, and JSON for the commands that
print data (explain, kb)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from envdoctor import github_action
from envdoctor.audit.result import AuditReport
from envdoctor.cli import main
from envdoctor.console import Style
from envdoctor.findings import Finding, Severity
from envdoctor.host.profile import HostProfile
from envdoctor.report import OutputFormat
from envdoctor.report import github as github_format
from envdoctor.report.references import readable, readable_all
from envdoctor.requirements.model import Input, Location

LINUX = ["--os", "linux", "--arch", "x86_64", "--python", "3.11"]
JAX_WHEEL = (
    "https://files.pythonhosted.org/packages/06/f3/c499d358dd7f267a63d7d38ef54aadad82e28d2c28bafff15360c3091946/"
    "jax-0.4.34-py3-none-any.whl"
)
PLAIN = Style(enabled=False)
# One workflow command: a level, properties without a raw ':' or ',', a message without a line break.
COMMAND = re.compile(r"::(error|warning|notice)( (file=[^:,\r\n]*,)?(line=\d+,)?title=[^:,\r\n]*)?::[^\r\n]*")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--color", "never", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def unescape(text: str) -> str:
    """What the runner makes of a command's message (its unescaping, in reverse order)."""
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


# --- References people can read -------------------------------------------------------------

READABLE = [
    # A wheel on PyPI's file host: the release's page (which shows the METADATA read).
    (JAX_WHEEL, "https://pypi.org/project/jax/0.4.34/"),
    (
        "https://files.pythonhosted.org/packages/ff/0c/7d/"
        "tensorflow-2.20.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "https://pypi.org/project/tensorflow/2.20.0/",
    ),
    # The name as the index normalizes it; a post release kept as it is.
    (
        "https://files.pythonhosted.org/packages/09/60/4f/xformers-0.0.23.post1-cp39-cp39-manylinux2014_x86_64.whl",
        "https://pypi.org/project/xformers/0.0.23.post1/",
    ),
    ("https://files.pythonhosted.org/p/Flash_Attn-2.5.8.tar.gz", "https://pypi.org/project/flash-attn/2.5.8/"),
    (
        "https://files.pythonhosted.org/packages/a/b/deepspeed-0.14.4.tar.gz",
        "https://pypi.org/project/deepspeed/0.14.4/",
    ),
    ("https://files.pythonhosted.org/p/numpy-2.0.0.zip", "https://pypi.org/project/numpy/2.0.0/"),
    # A wheel's METADATA file (PEP 658) is its wheel's; a hash fragment or a query changes nothing.
    (
        "https://files.pythonhosted.org/p/six-1.17.0-py2.py3-none-any.whl.metadata",
        "https://pypi.org/project/six/1.17.0/",
    ),
    (
        "https://files.pythonhosted.org/p/six-1.17.0-py2.py3-none-any.whl#sha256=ab",
        "https://pypi.org/project/six/1.17.0/",
    ),
    # PyTorch's index: the page that lists the package's files in that variant (the name unquoted, %2B).
    (
        "https://download.pytorch.org/whl/cu121/torch-2.2.0%2Bcu121-cp311-cp311-linux_x86_64.whl",
        "https://download.pytorch.org/whl/cu121/torch/",
    ),
    (
        "https://download.pytorch.org/whl/torchvision-0.17.0+cpu-cp311-cp311-linux_x86_64.whl",
        "https://download.pytorch.org/whl/torchvision/",
    ),
    # PyPI's APIs: the project's or the release's page.
    ("https://pypi.org/pypi/a2a-sdk/0.2.16/json", "https://pypi.org/project/a2a-sdk/0.2.16/"),
    ("https://pypi.org/pypi/Jax/json", "https://pypi.org/project/jax/"),
    ("https://pypi.org/simple/xgboost/", "https://pypi.org/project/xgboost/"),
    # Pages already: unchanged.
    (
        "https://github.com/NVIDIA/apex/blob/25.09/setup.py",
        "https://github.com/NVIDIA/apex/blob/25.09/setup.py",
    ),
    (
        "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html",
        "https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html",
    ),
    ("https://data.pyg.org/whl/torch-2.12.0+cu130.html", "https://data.pyg.org/whl/torch-2.12.0+cu130.html"),
    ("https://pypi.org/project/torch/", "https://pypi.org/project/torch/"),
    # Not a distribution, or not one that parses: the URL as it is, never a guess.
    ("https://files.pythonhosted.org/packages/x/README.txt", "https://files.pythonhosted.org/packages/x/README.txt"),
    ("https://files.pythonhosted.org/p/notawheel.whl", "https://files.pythonhosted.org/p/notawheel.whl"),
    (
        "https://files.pythonhosted.org/p/pkg-notaversion!.tar.gz",
        "https://files.pythonhosted.org/p/pkg-notaversion!.tar.gz",
    ),
    (
        "https://download.pytorch.org/libtorch/cu121/libtorch.zip",
        "https://download.pytorch.org/libtorch/cu121/libtorch.zip",
    ),
    ("ftp://files.pythonhosted.org/p/six-1.17.0.tar.gz", "ftp://files.pythonhosted.org/p/six-1.17.0.tar.gz"),
    ("https://[::1", "https://[::1"),
    ("not a url", "not a url"),
    # Nothing from the URL that is not a name or a version reaches the page's URL.
    (
        "https://files.pythonhosted.org/p/bad%0Aname-1.0.tar.gz",
        "https://files.pythonhosted.org/p/bad%0Aname-1.0.tar.gz",
    ),
    ("https://pypi.org/pypi/evil%0Aname/json", "https://pypi.org/pypi/evil%0Aname/json"),
    ("https://pypi.org/pypi/six/1.0%20x/json", "https://pypi.org/pypi/six/1.0%20x/json"),
    (
        "https://download.pytorch.org/whl/%0A/torch-2.2.0-cp311-cp311-linux_x86_64.whl",
        "https://download.pytorch.org/whl/%0A/torch-2.2.0-cp311-cp311-linux_x86_64.whl",
    ),
    (
        "https://download.pytorch.org/whl/../torch-2.2.0-cp311-cp311-linux_x86_64.whl",
        "https://download.pytorch.org/whl/../torch-2.2.0-cp311-cp311-linux_x86_64.whl",
    ),
]


@pytest.mark.parametrize(("url", "page"), READABLE, ids=[f"{i}" for i in range(len(READABLE))])
def test_a_reference_is_shown_as_a_page_people_can_read(url: str, page: str) -> None:
    assert readable(url) == page


def test_two_files_of_one_release_are_one_page() -> None:
    wheels = [
        "https://files.pythonhosted.org/p/torch-2.1.2-cp39-cp39-manylinux1_x86_64.whl",
        "https://docs.nvidia.com/a.html",
        "https://files.pythonhosted.org/p/torch-2.1.2-cp311-cp311-manylinux1_x86_64.whl",
    ]
    assert readable_all(wheels) == ("https://pypi.org/project/torch/2.1.2/", "https://docs.nvidia.com/a.html")


def test_human_formats_show_the_page_and_json_keeps_the_exact_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # jax's CUDA 12 build on a driver too old: the base read the fact from jax's wheel.
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("jax[cuda12]==0.4.34\n")
    argv = ["audit", "requirements.txt", *LINUX, "--driver", "450.80.02", "--gpu", "8.6"]
    outputs = {name: run(capsys, *argv, "--format", name) for name in ("json", "text", "markdown", "sarif", "github")}
    assert {code for code, _, _ in outputs.values()} == {1}
    finding = next(f for f in json.loads(outputs["json"][1])["findings"] if f["code"] == "ED101")
    assert JAX_WHEEL in finding["references"]  # the contract: the exact URL the row cites
    page = "https://pypi.org/project/jax/0.4.34/"
    assert f"    see: {page}\n" in outputs["text"][1]
    assert f"<{page}>" in outputs["markdown"][1]
    assert f"%0Asee: {page}" in outputs["github"][1]
    result = next(r for r in json.loads(outputs["sarif"][1])["runs"][0]["results"] if r["ruleId"] == "ED101")
    assert page in result["properties"]["references"] and " See: " in result["message"]["text"]
    assert result["message"]["text"].endswith(page)
    for name in ("text", "markdown", "sarif", "github"):
        assert "files.pythonhosted.org" not in outputs[name][1], name


def test_a_reference_that_cannot_be_a_link_is_markdown_text() -> None:
    finding = Finding(
        "ED101", "driver-too-old", Severity.ERROR, "m", references=("https://e.example/a)[x](http://e)&amp;|<b>",)
    )
    out = OutputFormat.MARKDOWN.render(AuditReport((), (), (finding,)), PLAIN)
    row = next(line for line in out.splitlines() if line.startswith("| **error**"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 6, row
    for markup in ("<https://e", "](", "&amp;", "<b>"):
        assert not re.search(r"(?<!\\)" + re.escape(markup), row), markup


# --- --format github ------------------------------------------------------------------------


def test_audit_format_github_is_one_annotation_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("six\ntorch==2.2.0+cu121\n")
    argv = ["audit", "requirements.txt", *LINUX, "--driver", "520.61.05", "--format", "github"]
    code, out, _ = run(capsys, *argv)
    report = json.loads(run(capsys, *argv[:-1], "json")[1])
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == len(report["findings"]) and all(COMMAND.fullmatch(line) for line in lines), out
    ed101 = next(line for line in lines if "ED101" in line)
    assert ed101.startswith("::error file=requirements.txt,line=2,title=ED101 driver-too-old::torch 2.2.0+cu121")
    assert "%0Afix: " in ed101
    # Errors first, then warnings, then notices; and the same bytes every time.
    levels = [line.split(" ", 1)[0] for line in lines]
    order = {"::error": 0, "::warning": 1, "::notice": 2}
    assert levels == sorted(levels, key=order.__getitem__)
    assert run(capsys, *argv)[1] == out


def test_no_findings_no_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("")
    code, out, _ = run(capsys, "audit", "requirements.txt", *LINUX, "--format", "github")
    assert (code, out) == (0, "")


HOSTILE = "x\n::error file=forged.py,line=1::forged\r\x1b[31m%0A::warning::also forged\u2028end,:"


def test_hostile_text_cannot_end_or_forge_a_command() -> None:
    finding = Finding(
        "ED101",
        "driver-too-old",
        Severity.ERROR,
        HOSTILE,
        location=Location("req,line=9:x%2C\n::error::f.txt", 3),
        fix=HOSTILE,
        references=(HOSTILE,),
        host=HOSTILE,
    )
    line = github_format.annotation(finding, show_host=True)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert COMMAND.fullmatch(line), line
    head, _, message = line.partition("::error ")[2].partition("::")
    # The properties: exactly file, line and title, the path's ',' ':' and '%' escaped.
    names = [field.split("=", 1)[0] for field in head.split(",")]
    assert names == ["file", "line", "title"]
    assert unescape(head.split(",")[0][len("file=") :]) == "req,line=9:x%2C\\x0a::error::f.txt"
    # The message: our three lines (finding, fix, see), each the hostile text made printable.
    shown = r"x\x0a::error file=forged.py,line=1::forged\x0d\x1b[31m%0A::warning::also forged\u2028end,:"
    assert unescape(message).split("\n") == [f"{shown} [host: {shown}]", f"fix: {shown}", f"see: {shown}"]


def test_a_hostile_file_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "a,b:c%0A"
    folder.mkdir()
    requirements = folder / "requirements.txt"
    requirements.write_bytes(
        b"evil @ https://e.example/x\r::error::forged%0A,:.whl\n"
        b"evil2 @ https://e.example/\x1b]8;;http://e\x07::warning::y%0D.whl\n"
        b"torch==2.2.0+cu121\n"
    )
    code, out, err = run(capsys, "audit", str(requirements), *LINUX, "--driver", "520.61.05", "--format", "github")
    assert code == 1, err
    lines = out.split("\n")
    assert lines[-1] == "" and all(COMMAND.fullmatch(line) for line in lines[:-1]), out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert all(f"file={str(folder).replace(',', '%2C').replace(':', '%3A').replace('%0A', '%250A')}" in line
               for line in lines[:-1] if "file=" in line)  # fmt: skip


def test_findings_print_in_one_order_whatever_order_they_came_in() -> None:
    def finding(code: str, severity: Severity, path: str, line: int, host: str) -> Finding:
        return Finding(code, "c", severity, f"{code} on {host}", location=Location(path, line), host=host)

    findings = [
        finding("ED402", Severity.WARNING, "b.txt", 1, "h1"),
        finding("ED101", Severity.ERROR, "b.txt", 2, "h2"),
        finding("ED101", Severity.ERROR, "b.txt", 2, "h1"),
        finding("ED900", Severity.INFO, "a.txt", 1, "h1"),
        finding("ED101", Severity.ERROR, "a.txt", 9, "h1"),
    ]
    hosts = (("h1", HostProfile()), ("h2", HostProfile()))
    inputs = (Input("a.txt", "requirements"),)
    outs = {OutputFormat.GITHUB.render(AuditReport(hosts, inputs, tuple(order)), PLAIN) for order in
            (findings, findings[::-1], findings[2:] + findings[:2])}  # fmt: skip
    assert len(outs) == 1
    firsts = [line.split("::")[2].split("%0A")[0] for line in outs.pop().splitlines()]
    assert firsts == [
        "ED101 on h1 [host: h1]",
        "ED101 on h1 [host: h1]",
        "ED101 on h2 [host: h2]",
        "ED402 on h1 [host: h1]",
        "ED900 on h1 [host: h1]",
    ]


def test_stdin_and_host_findings_are_annotations_without_a_file() -> None:
    on_stdin = Finding("ED402", "not-reproducible", Severity.WARNING, "m", location=Location("<stdin>", 1))
    on_host = Finding("ED104", "gpu-unavailable", Severity.INFO, "m")
    assert github_format.annotation(on_stdin) == "::warning title=ED402 not-reproducible::m"
    assert github_format.annotation(on_host) == "::notice title=ED104 gpu-unavailable::m"


def test_the_action_prints_the_same_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the Action prints is what --format github prints for the same files and host.
    (tmp_path / "requirements.txt").write_text("torch==2.1.0\nnumpy\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVDOCTOR_FILES", "requirements.txt")
    monkeypatch.setenv("ENVDOCTOR_SARIF_FILE", str(tmp_path / "out.sarif"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "output.txt"))
    github_action.audit()
    # The Action also fences its log with stop-commands: the annotations are its error/warning/notice lines.
    kinds = ("::error ", "::warning ", "::notice ", "::error::", "::warning::", "::notice::")
    action = [line for line in capsys.readouterr().out.splitlines() if line.startswith(kinds)]
    main(["audit", "requirements.txt", "--os", "linux", "--arch", "x86_64", "--format", "github"])
    cli = capsys.readouterr().out.splitlines()
    assert action and action == cli


# --- --format json for the commands that print data ----------------------------------------


def test_explain_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    from envdoctor.commands import explain

    assert explain.run(argparse.Namespace(color="never", code="ed101", format="json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "envdoctor.codes/1"
    [code] = document["codes"]
    assert code["code"] == "ED101" and code["category"] == "driver-too-old" and code["severity"] == "error"
    assert set(code) == {"code", "category", "severity", "title", "summary", "why", "fix"}
    assert explain.run(argparse.Namespace(color="never", code=None, format="json")) == 0
    every = json.loads(capsys.readouterr().out)["codes"]
    assert len(every) > 10 and [c["code"] for c in every] == sorted(c["code"] for c in every)


def test_kb_list_and_show_as_json_carry_their_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "kb", "list", "--format", "json")
    listed = json.loads(out)
    assert code == 0 and listed["schema"] == "envdoctor.kb-list/1" and {"topics", "rows", "packages"} <= set(listed)
    code, out, _ = run(capsys, "kb", "show", "cuda", "12.1", "--format", "json")
    shown = json.loads(out)
    assert code == 0 and shown["schema"] == "envdoctor.kb-show/1" and shown["topic"] == "cuda" and shown["rows"]
    # The knowledge base keeps the exact URL it read (a wheel, where that is what it read).
    assert all("source" in row for row in shown["rows"])


def test_kb_check_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    from envdoctor.commands import kb

    assert kb.run(argparse.Namespace(color="never", kb_command="check", format="json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "envdoctor.kb-check/1" and document["problems"] == [] and document["rows"] > 1000


def test_kb_check_as_json_on_a_broken_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from envdoctor import kb as base
    from envdoctor.commands import kb

    monkeypatch.setattr(base, "DATA_DIR", tmp_path)
    base.clear_caches()
    try:
        (tmp_path / "cuda.toml").write_text('[[release]]\ncuda = "x"\n')
        assert kb.run(argparse.Namespace(color="never", kb_command="check", format="json")) == 1
    finally:
        base.clear_caches()
    document = json.loads(capsys.readouterr().out)
    assert document["rows"] is None and any("cuda.toml: [[release]] row 1" in p for p in document["problems"])


def test_fixes_are_notices_and_warnings() -> None:
    from envdoctor.findings import Edit
    from envdoctor.fix.plan import Outcome

    finding = Finding("ED101", "driver-too-old", Severity.ERROR, "m", location=Location("r.txt", 1))
    edit = Edit("r.txt", 1, "torch==2.2.0+cu121", "torch==2.2.0+cu118", "https://download.pytorch.org/whl/cu118")
    fixes = [Outcome((edit,), (finding,), True), Outcome((edit,), (finding,), False, "host b\ndisagrees")]
    lines = OutputFormat.GITHUB.render(AuditReport((), (), ()), PLAIN, fixes).splitlines()
    assert lines[0].startswith("::notice title=envdoctor --fix::fixed r.txt:1 (ED101): torch==2.2.0+cu121 -> ")
    assert lines[1].startswith("::warning title=envdoctor --fix::not fixed r.txt:1 (ED101)")
    assert lines[1].endswith(r": host b\x0adisagrees") and len(lines) == 2
