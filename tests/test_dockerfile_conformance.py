"""The Dockerfile reader's text layer against BuildKit's own parser (issue 13, part 5).

The ``dockerfile`` package on PyPI wraps moby/buildkit's Go parser (frontend/dockerfile/parser);
where its wheel installs, it is the oracle: for every real Dockerfile of tests/fixtures/dockerfiles/
and for the edge cases below, the instructions envdoctor's reader sees (each keyword, its builder
flags, its arguments as the instruction's own rule splits them, whether it is the exec form, its
heredocs with their bodies, and the line it starts on) must be the ones BuildKit sees, and what
BuildKit refuses, the reader refuses. Skipped where the package is not installed (it is a test-only
oracle, not a dependency of envdoctor).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envdoctor.errors import InputError
from envdoctor.requirements.dockerfile import instructions

dockerfile = pytest.importorskip("dockerfile")

CORPUS = Path(__file__).parent / "fixtures" / "dockerfiles"
REAL = sorted(path.name for path in CORPUS.iterdir() if (path / "Dockerfile").is_file())

Seen = tuple[str, str | None, bool, tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...], int]


def ours(text: str) -> list[Seen]:
    return [
        (
            i.keyword.upper(),
            i.sub.keyword.upper() if i.sub else None,
            i.json,
            i.flags,
            i.value,
            tuple((h.name, h.content) for h in i.heredocs),
            i.line,
        )
        for i in instructions(text, "Dockerfile")
    ]


def buildkits(text: str) -> list[Seen]:
    parsed: Any = dockerfile.parse_string(text)
    return [
        (
            c.cmd.upper(),
            c.sub_cmd.upper() if c.sub_cmd else None,
            c.json,
            tuple(c.flags),
            tuple(c.value),
            tuple((h.name, h.content) for h in c.heredocs),
            c.start_line,
        )
        for c in parsed
    ]


@pytest.mark.parametrize("name", REAL)
def test_a_real_dockerfile_reads_as_buildkit_reads_it(name: str) -> None:
    text = (CORPUS / name / "Dockerfile").read_text(encoding="utf-8")
    assert ours(text) == buildkits(text)


EDGES = {
    "escape directive": '# escape=`\nFROM windows\nRUN dir `\n  c:\\\\\nENV A=`"x`" B=c\n',
    "byte order mark, CRLF, check directive": "\ufeff# syntax=docker/dockerfile:1\n#check=skip=all\r\nFROM a\r\n"
    "RUN echo a \\\r\n  b\r\nENV X 1\n",
    "comments and blank lines inside a continuation": "FROM a\nRUN echo \\\n# comment\n\n  # another\n   done\n",
    "an escaped backslash ends no line": "FROM a\nRUN a\\\\\nRUN b\nRUN x \\\n\\\n  y\n",
    "builder flags": "FROM a\nRUN  --mount=type=cache,target=/x  --network=none   echo   hi  \n"
    'RUN --mount="type=bind,source=a b,target=/c" echo\nRUN -- echo\nRUN --x -- --y\n'
    "COPY --link --from=build /a /b\nRUN --network host pip install x\n",
    "name=value forms": 'FROM a\nENV A="a\\"b" C=\'d e\' D\\ E=f\nENV OLD a b  c\nLABEL "a b"="c d" e=f\n'
    'ARG A B=2 C="3 4"\nEXPOSE 80/tcp   443\n',
    "the exec form and its look-alikes": 'FROM a\nRUN [ "x" ] \nRUN ["a", NaN]\nRUN [a]\nCMD\nRUN []\n'
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]\n',
    "onbuild and healthcheck": 'FROM a\nONBUILD RUN pip install x\nHEALTHCHECK --interval=5s CMD ["curl", "x"]\n'
    "HEALTHCHECK NONE\nSTOPSIGNAL 9\n  FROM   b   as   c  \nrun lower\n",
    "heredocs": "FROM a\nRUN <<-EOF\n\tindented\n\tEOF\nRUN <<A cat >/f && <<B sh\na1\nA\nb1\nB\n"
    'COPY --chown=1 <<EOF <<"EOT" /dst/\na\nEOF\nb\nEOT\nRUN echo "<<NOT" <<X\nbody\nX\n'
    "RUN 3<<EOF cat\nq\nEOF\nRUN <<$X sh\nv\n$X\nRUN <<E\\OF\nu\nEOF\nRUN echo x<<NO\n",
    "heredoc with CRLF": "FROM a\r\nRUN <<EOF\r\nwin\r\nEOF\r\nRUN after\r\n",
}


@pytest.mark.parametrize("text", EDGES.values(), ids=list(EDGES))
def test_an_edge_of_the_grammar_reads_as_buildkit_reads_it(text: str) -> None:
    assert ours(text) == buildkits(text)


REFUSED = {
    "a JSON array of other than strings": 'FROM a\nRUN ["pip", 1]\n',
    "an unterminated heredoc": "FROM a\nRUN <<EOF\npip install x\n",
    "ENV without a value": "FROM a\nENV A\n",
    "ENV mixing forms": "FROM a\nENV A=1 B\n",
    "a second escape directive": "# escape=`\n# escape=\\\nFROM a\n",
    "no instruction at all": "# only a comment\n\n",
}


@pytest.mark.parametrize("text", REFUSED.values(), ids=list(REFUSED))
def test_what_buildkit_refuses_the_reader_refuses(text: str) -> None:
    with pytest.raises(dockerfile.GoParseError):
        dockerfile.parse_string(text)
    with pytest.raises(InputError):
        instructions(text, "Dockerfile")
