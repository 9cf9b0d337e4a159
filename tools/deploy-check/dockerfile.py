"""A small Dockerfile reader (enough for Timbre's checks) and a .dockerignore matcher.

Docker's own rules, where they matter here: a line ending in `\\` continues the instruction,
comment lines inside a continued instruction are dropped, JSON arrays are the exec form, and
in .dockerignore the last matching pattern wins, `!` re-includes, and a pattern that matches a
folder matches everything under it.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field


@dataclass
class Instruction:
    keyword: str          # upper case: FROM, RUN, COPY, …
    arguments: str        # the rest, continuation lines joined with spaces
    line: int             # 1-based line of the keyword
    comments: list[str] = field(default_factory=list)  # the comment lines right above it

    def exec_form(self) -> list[str] | None:
        text = self.arguments.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                return None
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        return None


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending_comments: list[str] = []
    current: list[str] | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if current is None:
            if not stripped:
                pending_comments = []
                continue
            if stripped.startswith("#"):
                pending_comments.append(stripped[1:].strip())
                continue
            current, start = [], number
        elif stripped.startswith("#"):
            continue  # a comment inside a continued instruction is dropped
        if stripped.endswith("\\"):
            current.append(stripped[:-1].strip())
            continue
        current.append(stripped)
        joined = " ".join(part for part in current if part)
        keyword, _, rest = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), rest.strip(), start, pending_comments))
        current, pending_comments = None, []
    if current is not None:
        raise ValueError(f"line {start}: the last instruction ends in a line continuation")
    return instructions


def stages(instructions: list[Instruction]) -> list[Stage]:
    result: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.arguments.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            result.append(Stage(words[0], name, [instruction]))
        elif result:
            result[-1].instructions.append(instruction)
    return result


_SEPARATORS = re.compile(r"&&|\|\||;|\|")


def apt_packages(run_arguments: str) -> list[str]:
    """The package names of every `apt-get install` (or `apt install`) in a shell-form RUN."""
    packages: list[str] = []
    for segment in _SEPARATORS.split(run_arguments):
        try:
            words = shlex.split(segment)
        except ValueError:
            continue
        # Skip leading VAR=value assignments and sudo.
        while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] == "sudo"):
            words = words[1:]
        if len(words) < 2 or words[0] not in ("apt-get", "apt"):
            continue
        positional = [w for w in words[1:] if not w.startswith("-")]
        if not positional or positional[0] != "install":
            continue
        packages.extend(p for p in positional[1:] if p)
    return packages


def env_assignments(arguments: str) -> dict[str, str]:
    """ENV K=V K2="V 2" (and the old `ENV K V` form)."""
    words = shlex.split(arguments)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    result = {}
    for word in words:
        key, _, value = word.partition("=")
        result[key] = value
    return result


def expand(value: str, environment: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: environment.get(m.group(1), ""), value)


@dataclass
class Copy:
    sources: list[str]
    destination: str
    from_stage: str | None
    line: int


def copies(stage: Stage) -> list[Copy]:
    result = []
    for instruction in stage.all("COPY") + stage.all("ADD"):
        words = instruction.exec_form() or shlex.split(instruction.arguments)
        flags = [w for w in words if w.startswith("--")]
        paths = [w for w in words if not w.startswith("--")]
        from_stage = next((f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None)
        result.append(Copy(paths[:-1], paths[-1], from_stage, instruction.line))
    return result


class DockerIgnore:
    def __init__(self, text: str):
        self.patterns: list[tuple[bool, re.Pattern[str], str]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:].strip()
            line = line.strip("/")
            line = re.sub(r"/+", "/", line)
            if line.startswith("./"):
                line = line[2:]
            self.patterns.append((negate, re.compile(self._regex(line)), raw.strip()))

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "^", 0
        while i < len(pattern):
            c = pattern[i]
            if pattern.startswith("**", i):
                i += 2
                if i < len(pattern) and pattern[i] == "/":
                    out += "(?:.*/)?"
                    i += 1
                else:
                    out += ".*"
                continue
            if c == "*":
                out += "[^/]*"
            elif c == "?":
                out += "[^/]"
            elif c == "[":
                end = pattern.find("]", i)
                if end < 0:
                    out += re.escape(c)
                else:
                    out += pattern[i:end + 1].replace("[!", "[^")
                    i = end
            else:
                out += re.escape(c)
            i += 1
        return out + "$"

    def excluded(self, path: str) -> bool:
        """True when `path` (relative to the context root) is left out of the build context."""
        parts = path.strip("/").split("/")
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        excluded = False
        for negate, regex, _ in self.patterns:
            if any(regex.match(p) for p in prefixes):
                excluded = not negate
        return excluded
