"""The gate's exit code and counts: every combination of statuses, and the helpers."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest

from checker.problem import Status
from checker.report.outcome import (
    EXIT_HOLDS,
    EXIT_UNKNOWN,
    EXIT_VIOLATED,
    Summary,
    atomic_write,
    exit_code,
    groups,
    worst,
    written,
)


def expected(statuses: tuple[Status, ...]) -> int:
    if Status.VIOLATED in statuses:
        return EXIT_VIOLATED
    if Status.UNKNOWN in statuses or Status.UNWITNESSED in statuses:
        return EXIT_UNKNOWN
    return EXIT_HOLDS


@pytest.mark.parametrize("n", [1, 2, 3])
def test_exit_code_for_every_combination(gate_run: Any, n: int) -> None:
    base = gate_run.verdicts[-1]
    for statuses in itertools.product(list(Status), repeat=n):
        vs = [dataclasses.replace(base, status=s) for s in statuses]
        assert exit_code(vs) == expected(statuses), statuses


def test_exit_codes_by_name() -> None:
    assert (EXIT_HOLDS, EXIT_VIOLATED, EXIT_UNKNOWN) == (0, 1, 3)
    assert exit_code([]) == 0


def test_summary(gate_run: Any) -> None:
    s = Summary.of(gate_run.verdicts)
    assert s.total == 10 and s.exit_code == 1 and not s.passed
    assert s.count(Status.VIOLATED) == 4 and s.count(Status.UNKNOWN) == 2
    assert list(s.as_dict()) == [x.value for x in Status]
    assert str(s) == ("10 verdicts: 4 violated, 1 holds, 1 proved, 1 witnessed, "
                      "1 unwitnessed, 2 unknown")
    assert str(Summary.of([])) == "0 verdicts"


def test_groups_and_worst(gate_run: Any) -> None:
    gs = groups(gate_run.verdicts)
    assert len(gs) == len(gate_run.verdicts)  # each verdict its own target here
    doubled = groups([*gate_run.verdicts[:1], *gate_run.verdicts[:1]])
    assert len(doubled) == 1 and len(doubled[0].counterexamples) == 2
    assert worst([Status.PROVED, Status.UNWITNESSED, Status.UNKNOWN]) is Status.UNKNOWN
    assert worst([Status.HOLDS, Status.VIOLATED]) is Status.VIOLATED
    with pytest.raises(ValueError):
        worst([])


def test_written_maps_names_to_files(gate_run: Any) -> None:
    files = list(gate_run.files.values())
    assert written(files) == gate_run.files
    for name, f in gate_run.files.items():
        assert f.scenario.name == f"{name}.dmabuf"


def test_atomic_write_replaces_and_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.txt"
    atomic_write(path, b"one")
    atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert [p.name for p in path.parent.iterdir()] == ["report.txt"]


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    atomic_write(path, b"old")
    with pytest.raises(TypeError):
        atomic_write(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
