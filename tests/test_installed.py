"""The installed package works without the checkout: a fresh virtual environment gets a regular
(not editable) install of this tree, and its Python, run from a directory outside the
repository, imports ``checker`` and ``model`` from the environment, loads the grammar and
every shipped spec file through ``importlib.resources``, and runs the shipped scenarios.

The environment gets the dependencies (z3, hypothesis, lark) from the Python that runs the
tests, however that one was set up: it sees the system's site-packages
(``--system-site-packages``) and, through a ``.pth`` file, the running interpreter's own
site directories (a virtual environment's, where ``pip install -e '.[dev]'`` put lark), as
plain paths, so the checkout's editable install there stays inactive. The install itself
uses ``--no-deps --no-build-isolation``, after the build requirements of ``[build-system]``
(downloaded only when the system's site-packages do not meet them). The tree is copied first
(sources, specs, metadata), so the build writes nothing into the checkout. Once
``pyproject.toml`` declares the console script ``dmabuf-check`` under ``[project.scripts]``,
the test also requires it in the environment's ``bin`` and runs ``dmabuf-check --help``.

Neither ``venv`` nor ``pip`` is optional here: CI has both, so their absence fails the test.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("model", "checker", "specs")  # [tool.setuptools.packages.find] include
METADATA = ("pyproject.toml", "README.md")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache",
                                "*.egg-info", "build", "dist")
SPEC_DIRS = ("exporters", "importers", "rules", "scenarios", "conformance")

PROBE = textwrap.dedent('''
    """Run by the environment's Python: every check prints one line, a failure raises."""
    import importlib.resources as resources
    import sys
    from pathlib import Path

    env = Path(sys.argv[1]).resolve()
    repo = Path(sys.argv[2]).resolve()

    import checker
    import model
    import specs

    for module in (checker, model, specs):
        where = Path(module.__file__).resolve()
        assert where.is_relative_to(env), f"{module.__name__} from {where}, not from {env}"
        assert not where.is_relative_to(repo), f"{module.__name__} from the checkout"
    print("imported from", Path(checker.__file__).resolve().parent.parent)

    from checker.dsl.parser import grammar, parse
    from checker.dsl.resolve import load

    root = resources.files("specs")
    lark = (root / "dmabuf.lark").read_text(encoding="utf-8")
    assert "start:" in lark
    grammar()
    print("grammar loaded,", len(lark.splitlines()), "lines")

    paths = []
    for sub in %(dirs)r:
        entries = sorted((e for e in (root / sub).iterdir() if e.name.endswith(".dmabuf")),
                         key=lambda e: e.name)
        assert entries, f"no spec file shipped in specs/{sub}"
        for entry in entries:
            text = entry.read_text(encoding="utf-8")
            spec = parse(text, f"specs/{sub}/{entry.name}")
            assert spec.items, f"specs/{sub}/{entry.name} is empty"
            with resources.as_file(entry) as path:
                paths.append(str(path))
        print(f"specs/{sub}:", len(entries), "files parsed")
    guest = resources.files("checker.conformance")
    for name in ("guest.c", "setup-host.sh"):
        assert (guest / name).is_file(), f"checker/conformance/{name} is not installed"
    print("conformance guest sources installed")
    library = load(paths)
    print("loaded", len(paths), "spec files:", len(library.scenarios), "scenarios,",
          len(library.properties), "properties")
''') % {"dirs": SPEC_DIRS}


def _run(args: list[str | Path], cwd: Path, env: dict[str, str],
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _ok(proc: subprocess.CompletedProcess[str], what: str) -> str:
    assert proc.returncode == 0, (f"{what} exited {proc.returncode}\n--- stdout\n"
                                  f"{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc.stdout


def build_requirements() -> list[str]:
    """``[build-system] requires`` of ``pyproject.toml``."""
    with (REPO / "pyproject.toml").open("rb") as f:
        requires: list[str] = tomllib.load(f)["build-system"]["requires"]
    return requires


def declared_scripts() -> dict[str, str]:
    """The console scripts ``pyproject.toml`` declares."""
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    scripts: dict[str, str] = project.get("scripts", {})
    return scripts


def running_site_dirs() -> list[str]:
    """Where the running interpreter finds its packages (its virtual environment's
    site-packages, the user site, the system's), without the checkout."""
    dirs = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs)
            if Path(d).is_dir() and not Path(d).resolve().is_relative_to(REPO)]


def _share_site_packages(python: Path, cwd: Path, env: dict[str, str]) -> None:
    """Let the new environment import the running interpreter's dependencies: their
    directories as plain ``.pth`` lines (appended after the environment's own
    site-packages; ``.pth`` files inside them, such as an editable install's, are not run)."""
    purelib = _ok(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                        "['purelib'])"], cwd, env), "sysconfig").strip()
    Path(purelib).mkdir(parents=True, exist_ok=True)
    (Path(purelib) / "_dmabuf_check_test_deps.pth").write_text(
        "".join(f"{d}\n" for d in running_site_dirs()), encoding="utf-8")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A virtual environment with this tree installed (not editable): its directory, and
    the environment variables to run it with."""
    base = tmp_path_factory.mktemp("installed")
    tree = base / "tree"
    for name in SOURCES:
        shutil.copytree(REPO / name, tree / name, ignore=IGNORE)
    for name in METADATA:
        shutil.copy2(REPO / name, tree / name)
    env_dir = base / "venv"
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    # no pip or setuptools of its own: the system's (current) ones build and install into it
    _ok(_run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
              env_dir], base, env),
        "python -m venv")
    python = env_dir / "bin" / "python"
    _share_site_packages(python, base, env)
    # --no-build-isolation builds with what the environment has: the build requirements
    # pyproject.toml declares come first (a no-op when the system's site-packages meet them;
    # otherwise, e.g. an older setuptools without ``wheel``, they come from the registry)
    _ok(_run([python, "-m", "pip", "install", "--quiet", *build_requirements()], base, env),
        "pip install of the build requirements")
    _ok(_run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
              "--no-index", tree], base, env), "pip install")
    env["VIRTUAL_ENV"] = str(env_dir)
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env_dir, env


def test_imports_and_spec_files_come_from_the_environment(
        installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    env_dir, env = installed
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    out = _ok(_run([env_dir / "bin" / "python", probe, env_dir, REPO], tmp_path, env),
              "the probe")
    for sub in SPEC_DIRS:
        assert f"specs/{sub}:" in out
    assert "grammar loaded" in out and "loaded " in out
    assert "conformance guest sources installed" in out


def test_the_shipped_scenarios_run(installed: tuple[Path, dict[str, str]],
                                   tmp_path: Path) -> None:
    env_dir, env = installed
    out = _ok(_run([env_dir / "bin" / "python", "-m", "checker.scenario"], tmp_path, env),
              "python -m checker.scenario")
    assert out.strip(), "the scenario runner printed nothing"


def test_the_console_script(installed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """Required once pyproject.toml declares it; until then, it must not be half there."""
    env_dir, env = installed
    script = env_dir / "bin" / "dmabuf-check"
    if "dmabuf-check" not in declared_scripts():
        assert not script.exists(), "a dmabuf-check script pyproject.toml does not declare"
        return
    assert script.exists(), "pyproject.toml declares dmabuf-check; the install has no script"
    out = _ok(_run([script, "--help"], tmp_path, env), "dmabuf-check --help")
    assert "check" in out
