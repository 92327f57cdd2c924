"""Whatever a requirement source holds, the audit answers with findings or one clean InputError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.audit.run import AuditOptions, run_audit
from envdoctor.errors import EnvdoctorError, InputError
from envdoctor.host.profile import HostProfile, Libc
from envdoctor.requirements import SourceOptions, load_requirement_set

ROOT = Path(__file__).parent.parent
HOST = HostProfile(os="linux", arch="x86_64", python="3.11.9", libc=Libc("glibc", "2.35"))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

SEEDS = {
    "requirements.txt": (ROOT / "examples/icarus/requirements.txt").read_text()
    + "--extra-index-url https://download.pytorch.org/whl/cu121\n-e git+https://h/o/r@v1#egg=x\n"
    + "torch==2.1.0 \\\n  --hash=sha256:00\nnumpy ; python_version < '3.12'\n./local\n",
    "pyproject.toml": '[project]\nname = "p"\ndependencies = ["torch==2.2.0", "numpy<2"]\n'
    '[project.optional-dependencies]\ngpu = ["cupy-cuda12x"]\n'
    '[dependency-groups]\ndev = ["pytest", {include-group = "x"}]\n',
    "pylock.toml": 'lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "numpy"\nversion = "1.26.4"\n',
    "Dockerfile": "FROM nvidia/cuda:11.8.0-devel-ubuntu22.04 AS build\nARG V=2.2.0\n"
    "RUN pip install torch==${V} --index-url https://download.pytorch.org/whl/cu118 \\\n && apt-get install -y gcc\n"
    "FROM python:3.11-slim\nENV LD_LIBRARY_PATH=/usr/local/cuda/lib64\nCOPY --from=build /x /x\n",
}


def _audit(tmp_path: Path, name: str, text: str) -> None:
    folder = tmp_path / "case"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    try:
        requirements = load_requirement_set([str(path)], SourceOptions(extras=("gpu",) if "gpu" in text else ()))
        run_audit(requirements, [("host", HOST)], AuditOptions())
    except InputError as exc:
        assert str(exc).startswith(str(path)) or "include" in str(exc) or "No such file" in str(exc)
        assert "\n" not in str(exc)
    except EnvdoctorError:
        pass


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.data())
def test_damaged_sources(tmp_path_factory: object, name: str, data: st.DataObject) -> None:
    seed = SEEDS[name]
    start = data.draw(st.integers(0, len(seed)))
    end = data.draw(st.integers(start, len(seed)))
    noise = data.draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
    tmp_path = tmp_path_factory.mktemp("fuzz")  # type: ignore[attr-defined]
    _audit(tmp_path, name, seed[:start] + noise + seed[end:])


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_any_text_as_each_kind(tmp_path_factory: object, name: str, text: str) -> None:
    _audit(tmp_path_factory.mktemp("fuzz"), name, text)  # type: ignore[attr-defined]
