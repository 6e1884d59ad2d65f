"""The declared software environment (docs/container.md): envs/requirements.txt is the single source
of the versions, the hashed locks and both container definitions follow it, and the Snakefile
declares the image. Text checks only: nothing is built or installed here."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
ENVS = ROOT / "envs"
DEFINITIONS = [ENVS / "Dockerfile", ENVS / "sgd-spectra.def"]
LOCKS = [ENVS / "torch-cpu.lock", ENVS / "build.lock", ENVS / "requirements.lock"]
# Needed by the tests alone, never by a rule: not part of the jobs' environment.
TEST_ONLY = {"pytest", "sympy", "selenium", "ruff", "snakefmt"}  # lint tools: .ci/run, never a job


def pins(path):
    """{canonical name: Version} of the `name==version` lines of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # exactly one specifier, and it must be ==
        assert spec.operator == "==", f"{path.name}: {line!r} is not an exact pin"
        found[canonicalize_name(req.name)] = Version(spec.version)
    return found


def lock_entries(path):
    """{canonical name: (Version, number of hashes)} of a pip-compile --generate-hashes file."""
    entries, current = {}, None
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            req = Requirement(line.rstrip("\\").strip())
            (spec,) = req.specifier
            current = canonicalize_name(req.name)
            entries[current] = [Version(spec.version), 0]
        elif line.strip().startswith("--hash=sha256:"):
            entries[current][1] += 1
    return {name: tuple(entry) for name, entry in entries.items()}


def declared_requirements():
    """Every requirement of pyproject's dependencies and extras, less the package's own extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    return [req for req in map(Requirement, declared) if canonicalize_name(req.name) != "sgd-spectra"]


def test_every_declared_dependency_is_pinned():
    pinned = pins(ENVS / "requirements.txt")
    for req in declared_requirements():
        name = canonicalize_name(req.name)
        if name in TEST_ONLY:
            continue
        assert name in pinned, f"{req} (pyproject.toml) has no pin in envs/requirements.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"the pin {name}=={pinned[name]} does not satisfy pyproject's {req}"
        )


def test_locks_follow_requirements_txt():
    pinned = pins(ENVS / "requirements.txt")
    torch_lock, build_lock, main_lock = (lock_entries(path) for path in LOCKS)
    assert set(torch_lock) == {"torch"}, "envs/torch-cpu.lock holds torch alone"
    assert set(build_lock) == {"setuptools"}, "envs/build.lock holds the build backend alone"
    assert not set(main_lock) & {"torch", "setuptools"}, "each package is locked once"
    locked = {**main_lock, **build_lock, **torch_lock}
    for name, version in pinned.items():
        assert name in locked, f"{name} is pinned in envs/requirements.txt but not locked"
        assert locked[name][0].public == version.public, (
            f"{name}: lock has {locked[name][0]}, envs/requirements.txt {version}; rerun envs/lock.sh"
        )
    assert torch_lock["torch"][0].local == "cpu", "the locked torch is the CPU build"
    for name, (version, hashes) in locked.items():
        assert hashes >= 1, f"{name}=={version} has no hash in the lock"


def pip_installs(text):
    """The `pip install` commands of a Dockerfile or .def, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    commands = (c.strip() for line in joined.splitlines() for c in line.split("&&"))
    return [re.sub(r"^RUN\s+", "", c) for c in commands if re.match(r"(RUN\s+)?pip install\b", c)]


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda p: p.name)
def test_definitions_install_the_pins(definition):
    text = definition.read_text()
    installs = pip_installs(text)

    def install_of(target):
        found = [c for c in installs if re.search(rf"(^|\s){re.escape(target)}(\s|$)", c)]
        assert len(found) == 1, f"{definition.name}: {len(found)} pip installs of {target}"
        return installs.index(found[0]), found[0].split()

    torch_at, torch = install_of("envs/torch-cpu.lock")
    build_at, build = install_of("envs/build.lock")
    rest_at, rest = install_of("envs/requirements.lock")
    pins_at, pins = install_of("envs/requirements.txt")
    assert torch_at < build_at < rest_at < pins_at, "torch first, then setuptools, the rest, the check"
    for command in (torch, build, rest):
        assert {"--require-hashes", "--no-deps"} <= set(command), command
    assert "download.pytorch.org/whl/cpu" in text, "torch comes from PyTorch's CPU index"
    assert "--index-url" in torch, "torch from the CPU index alone (not PyPI's CUDA build)"
    assert torch[torch.index("--index-url") + 1] == '"${TORCH_INDEX_URL}"', "torch from the CPU index"
    assert "--no-build-isolation" in rest, "sdists are built with the hashed setuptools"
    # the single source of the versions: every pin satisfied by what the locks installed
    assert {"--no-index", "--no-deps"} <= set(pins)
    assert "pip check" in text
    _, package = install_of("/opt/sgd-spectra/pkg")
    assert {"--no-deps", "--no-index"} <= set(package), "the package itself, nothing else"


def test_definitions_share_the_base_image():
    docker = re.search(r"^FROM\s+(\S+)", (ENVS / "Dockerfile").read_text(), re.M).group(1)
    apptainer = (ENVS / "sgd-spectra.def").read_text()
    assert re.search(r"^Bootstrap:\s*docker\s*$", apptainer, re.M)
    assert re.search(r"^From:\s*(\S+)", apptainer, re.M).group(1) == docker
    assert re.fullmatch(r"python:3\.11[\w.-]*-bookworm", docker), docker


def test_snakefile_declares_the_container():
    text = (ROOT / "Snakefile").read_text()
    match = re.search(r"^container:\s*(.+)$", text, re.M)
    assert match, "the Snakefile declares no global container"
    assert match.start() < text.index("include:"), "a global container applies only to later rules"
    assert '"envs", "sgd-spectra.sif"' in match.group(1)
    assert "SGD_SPECTRA_IMAGE" in match.group(1)
    assert "*.sif" in (ENVS / ".gitignore").read_text().split()
