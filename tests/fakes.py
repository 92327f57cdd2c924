"""A recorded machine for the probe: files, commands and NVML answers replayed from data."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from envdoctor.host.nvml import NvmlFailure, NvmlReading, reading_from_dict
from envdoctor.host.system import CommandResult, PlatformFacts

FIXTURES = Path(__file__).parent / "fixtures"

LINUX_X86 = PlatformFacts("linux", "x86_64", "3.11.7", "glibc 2.36")
NVML_NOT_FOUND = NvmlFailure("NVML: NVML Shared Library Not Found", 12)


def fixture_text(relative: str) -> str:
    return (FIXTURES / relative).read_text(encoding="utf-8")


def recorded_nvml(name: str) -> NvmlReading | NvmlFailure:
    return reading_from_dict(json.loads(fixture_text(f"nvml/{name}.json"))["reading"])


@dataclass
class RecordedSystem:
    facts: PlatformFacts = LINUX_X86
    files: dict[str, str] = field(default_factory=dict)
    folders: dict[str, list[str]] = field(default_factory=dict)
    programs: dict[str, str] = field(default_factory=dict)
    commands: dict[tuple[str, ...], CommandResult] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    nvml_answer: NvmlReading | NvmlFailure = NVML_NOT_FOUND
    packages: dict[str, str] = field(default_factory=dict)
    ran: list[tuple[tuple[str, ...], Mapping[str, str] | None]] = field(default_factory=list)

    def platform_facts(self) -> PlatformFacts:
        return self.facts

    def read_text(self, path: str) -> str | None:
        return self.files.get(path)

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.folders or path in self.programs.values()

    def listdir(self, path: str) -> list[str] | None:
        return self.folders.get(path)

    def which(self, name: str) -> str | None:
        return self.programs.get(name)

    def run(self, argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> CommandResult:
        key = tuple(argv)
        self.ran.append((key, env))
        return self.commands.get(key, CommandResult(None, failure=f"{argv[0]}: not recorded"))

    def environ(self) -> Mapping[str, str]:
        return self.env

    def nvml(self, timeout: float) -> NvmlReading | NvmlFailure:
        return self.nvml_answer

    def python_packages(self, names: frozenset[str], prefixes: tuple[str, ...]) -> dict[str, str]:
        return dict(self.packages)
