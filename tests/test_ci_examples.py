"""The CI samples (``examples/ci``) and the pre-commit hook (``.pre-commit-hooks.yaml``):
their structure as GitHub Actions, GitLab CI and pre-commit read it, and every
``dmabuf-check`` command they run is one the CLI accepts (its subcommand and options appear
in ``python -m checker SUBCOMMAND --help``).

The files are parsed with PyYAML when it is installed; without it their structure is checked
on the text. The command check needs the CLI (``checker.cli``) and is skipped only while it
does not exist.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
GITHUB = REPO / "examples" / "ci" / "github-workflow.yml"
GITLAB = REPO / "examples" / "ci" / "gitlab-ci.yml"
SHARDED = REPO / "examples" / "ci" / "github-sharded-workflow.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
FILES = (GITHUB, GITLAB, SHARDED, HOOKS)
COMMAND = re.compile(r"\bdmabuf-check\s+(?=[a-z-]+\b)")


def load_yaml(path: Path) -> Any | None:
    """The parsed file, or None when PyYAML is not installed."""
    try:
        import yaml
    except ImportError:
        return None
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def logical_lines(text: str) -> list[str]:
    """The file's lines with each block scalar (``key: >-`` or ``key: |``) joined onto its
    key's line, comments left out."""
    lines = [line for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if re.search(r":\s*[>|][-+]?\s*$", line):
            head = re.sub(r"[>|][-+]?\s*$", "", line)
            body = []
            while i < len(lines) and _indent(lines[i]) > _indent(line):
                body.append(lines[i].strip())
                i += 1
            line = head + " ".join(body)
        out.append(line)
    return out


def commands(path: Path) -> list[list[str]]:
    """Every ``dmabuf-check SUBCOMMAND ...`` the file runs, as words."""
    out = []
    for line in logical_lines(path.read_text(encoding="utf-8")):
        match = COMMAND.search(line)
        if match is not None:
            out.append(shlex.split(line[match.start():]))
    return out


def test_every_file_runs_dmabuf_check() -> None:
    for path in FILES:
        found = commands(path)
        assert found, f"{path.name} runs no dmabuf-check command"
        assert all(words[1] in ("check", "merge") for words in found), found


def test_github_workflow() -> None:
    data = load_yaml(GITHUB)
    text = GITHUB.read_text(encoding="utf-8")
    if data is None:
        for needle in ("jobs:", "runs-on:", "steps:", "github/codeql-action/upload-sarif@",
                       "sarif_file:", "security-events: write", "actions/upload-artifact@"):
            assert needle in text, needle
        return
    assert "on" in data or True in data  # YAML 1.1 reads a bare `on` as true
    (job,) = data["jobs"].values()
    assert job["runs-on"] and job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    check = next(r for r in runs if COMMAND.search(r))
    words = shlex.split(check)
    sarif = words[words.index("--sarif") + 1]
    junit = words[words.index("--junit") + 1]
    upload = next(s for s in steps if s.get("uses", "").startswith(
        "github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == sarif
    assert upload["with"]["category"]
    # the reports are uploaded even when the gate fails
    assert "cancelled()" in upload["if"] or "always()" in upload["if"]
    artifact = next(s for s in steps if s.get("uses", "").startswith(
        "actions/upload-artifact@"))
    assert "cancelled()" in artifact["if"] or "always()" in artifact["if"]
    assert junit.split("/")[0] + "/" in artifact["with"]["path"]


def test_sharded_github_workflow() -> None:
    data = load_yaml(SHARDED)
    if data is None:
        pytest.skip("PyYAML is not installed")
    shard, merge = data["jobs"]["shard"], data["jobs"]["merge"]
    n = len(shard["strategy"]["matrix"]["shard"])
    assert shard["strategy"]["matrix"]["shard"] == list(range(1, n + 1))
    assert shard["strategy"]["fail-fast"] is False
    runs = [s["run"] for s in shard["steps"] if COMMAND.search(s.get("run", ""))]
    (check,) = [shlex.split(r) for r in runs]
    assert check[1] == "check"
    assert f"--shard ${{{{ matrix.shard }}}}/{n} " in runs[0]
    output = check[check.index("--shard-output") + 1]
    upload = next(s for s in shard["steps"] if s.get("uses", "").startswith(
        "actions/upload-artifact@"))
    assert output.startswith(upload["with"]["path"]) and "cancelled()" in upload["if"]
    # the merge runs after every shard, whatever their outcome, on every shard's results
    assert merge["needs"] == "shard" and "cancelled()" in merge["if"]
    download = next(s for s in merge["steps"] if s.get("uses", "").startswith(
        "actions/download-artifact@"))
    assert download["with"]["merge-multiple"] is True
    assert download["with"]["pattern"].rstrip("*") in upload["with"]["name"]
    runs = [s["run"] for s in merge["steps"] if COMMAND.search(s.get("run", ""))]
    (merged,) = [shlex.split(r) for r in runs]
    assert merged[1:3] == ["merge", download["with"]["path"]]
    sarif = merged[merged.index("--sarif") + 1]
    uploads = [s for s in merge["steps"] if s.get("uses", "").startswith(
        "github/codeql-action/upload-sarif@")]
    assert [s["with"]["sarif_file"] for s in uploads] == [sarif]  # uploaded once
    assert merge["permissions"]["security-events"] == "write"
    assert "security-events" not in shard.get("permissions", {})


def test_gitlab_ci() -> None:
    data = load_yaml(GITLAB)
    if data is None:
        text = GITLAB.read_text(encoding="utf-8")
        for needle in ("script:", "artifacts:", "when: always", "reports:", "junit:"):
            assert needle in text, needle
        return
    (job,) = data.values()
    check = next(line for line in job["script"] if COMMAND.search(line))
    words = shlex.split(check)
    junit = words[words.index("--junit") + 1]
    assert job["artifacts"]["reports"]["junit"] == junit
    assert job["artifacts"]["when"] == "always"


def test_pre_commit_hook() -> None:
    data = load_yaml(HOOKS)
    if data is None:
        text = HOOKS.read_text(encoding="utf-8")
        for needle in ("- id: dmabuf-check", "entry: dmabuf-check check",
                       "language: python", r"files: \.dmabuf$"):
            assert needle in text, needle
        return
    (hook,) = data
    assert hook["id"] == "dmabuf-check" and hook["name"]
    assert hook["entry"].split()[:2] == ["dmabuf-check", "check"]
    assert hook["language"] == "python"
    pattern = re.compile(hook["files"])
    assert pattern.search("specs/exporters/ttm.dmabuf")
    assert not pattern.search("checker/cli.py") and not pattern.search("x.dmabuf.bak")


@cache
def cli_help(subcommand: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "checker", subcommand, "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, f"dmabuf-check {subcommand} --help: {proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_commands_exist_in_the_cli(path: Path) -> None:
    if importlib.util.find_spec("checker.cli") is None:
        pytest.skip("the CLI (checker/cli.py) does not exist yet")
    for words in commands(path):
        subcommand = words[1]
        help_text = cli_help(subcommand)
        for word in words[2:]:
            if word.startswith("--"):
                option = word.split("=")[0]
                assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text), (
                    f"{path.name}: dmabuf-check {subcommand} has no option {option}")
