"""Sharded runs: the split (deterministic, complete, balanced), the shard files' codec, and
``dmabuf-check merge``: a check set, a certificate and a kill matrix run in shards and
merged give the same output, exit code, JUnit, SARIF, counterexamples and certificates as
one unsharded run (byte for byte once times are blanked); shards that do not belong
together, or do not fit the specs here, are refused with exit 2 and nothing written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from checker.cli import main
from checker.problem import Finding, Status
from checker.runs import Answer, Found, Unit, UnitResult, estimate
from checker.shards import (
    Shard,
    ShardError,
    assign,
    code_fingerprint,
    decode,
    encode,
    parse_shard,
    select,
)
from model.action import Action

ROOT = Path(__file__).resolve().parents[2]
SMALL = (ROOT / "tests" / "checker" / "specs" / "small.dmabuf").as_posix()
CHECK = ["check", SMALL, "-j", "2", "--examples", "30", "--counterexamples", "cx",
         "--junit", "out/gate.xml", "--sarif", "out/gate.sarif"]


# ---------------------------------------------------------------- the split


@pytest.mark.parametrize("text", ["2", "a/b", "3/2", "0/1", "1/0", "-1/2", "1/2/3"])
def test_a_malformed_shard_is_refused(text: str) -> None:
    with pytest.raises(ShardError, match="--shard"):
        parse_shard(text)


def test_every_item_is_in_exactly_one_shard_and_the_loads_are_balanced() -> None:
    costs = [float((7 * i) % 13 + 1) for i in range(40)]
    for n in (1, 2, 3, 4, 7, 40, 50):
        shards = [select(costs, Shard(k, n)) for k in range(1, n + 1)]
        assert sorted(i for s in shards for i in s) == list(range(40))
        loads = [sum(costs[i] for i in s) for s in shards]
        assert max(loads) - min(loads) <= max(costs)
    assert assign(costs, 4) == assign(list(costs), 4)  # the same split in every job


def test_the_estimate_grows_with_the_work() -> None:
    base = Unit((SMALL,), "heap", 0, "bmc", None, None, 60.0, 30)
    assert estimate(base) < estimate(Unit(*(base.files, "heap", 0, "bmc", None, 8, 60.0, 30)))
    assert estimate(Unit(*(base.files, "heap", 0, "bmc", None, 40, 2.0, 30))) == 2.0


# ---------------------------------------------------------------- the codec


def test_results_round_trip_through_json_with_tuples_kept() -> None:
    found = Found(Finding("rules", "R15", "unmap-unmapped"),
                  (Action.parse("attach(b0.a0)"), Action.parse("map(b0.a0, dir=TO_DEVICE)")),
                  "bmc", None)
    result = UnitResult((Answer("rules", Status.VIOLATED, "bmc", 3, found, "", 1.5,
                                (("timing", {"encode": 0.25}), ("sizes", (1, 2))),
                                (("R15 x", found),)),), "coverage", ("a warning",))
    again = decode(json.loads(json.dumps(encode(result))))
    assert again == result
    assert isinstance(again, UnitResult)
    assert again.answers[0].details == (("timing", {"encode": 0.25}), ("sizes", (1, 2)))


def test_decoding_builds_only_the_result_types() -> None:
    with pytest.raises(ShardError, match="no command writes"):
        decode({"#type": "Popen", "fields": {"args": "sh"}})
    with pytest.raises(ShardError, match="no shard result holds"):
        decode({"__reduce__": "os.system"})
    with pytest.raises(TypeError):
        encode(Path("x"))


# ---------------------------------------------------------------- merge


def _blank(text: str) -> str:
    """Times blanked: the table's seconds and JUnit's time, and runs of spaces (a column
    as wide as its longest time)."""
    text = re.sub(r" *\b\d+\.\d+s\b", " <t>", text)
    text = re.sub(r'time="[0-9.]+"', 'time=""', text)
    return re.sub(r" +", " ", text)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _files(d: Path) -> dict[str, str]:
    return {p.relative_to(d).as_posix(): _blank(p.read_text(encoding="utf-8"))
            for p in sorted(d.rglob("*")) if p.is_file() and ".hypothesis" not in p.parts}


@pytest.fixture(scope="module")
def check_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The small check set run once unsharded (``one/``), and as three shards
    (``shards/``), run in their own directories."""
    base = tmp_path_factory.mktemp("merge")
    dirs = {k: base / k for k in ("one", "shards", "merged")}
    for d in dirs.values():
        d.mkdir()
    return dirs


def test_a_merged_check_equals_one_unsharded_run(
        check_runs: dict[str, Path], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(check_runs["one"])
    code, one_out, one_err = _run(CHECK, capsys)
    assert code == 1  # the mutant is caught
    monkeypatch.chdir(check_runs["shards"])
    codes = [_run([*CHECK, "--shard", f"{k}/3", "--shard-output", f"s{k}.json"], capsys)
             for k in (1, 2, 3)]
    assert all("results written to" in out for _, out, _ in codes)
    assert max(c for c, _, _ in codes) == 1  # the shard that ran the bmc mutant fails
    assert not (check_runs["shards"] / "out").exists()  # shards write no reports
    assert not (check_runs["shards"] / "cx").exists()
    shards = [str(check_runs["shards"] / f"s{k}.json") for k in (3, 1, 2)]
    monkeypatch.chdir(check_runs["merged"])
    code, out, err = _run(["merge", *shards], capsys)
    assert code == 1
    assert _blank(out) == _blank(one_out)
    assert err == one_err
    assert _files(check_runs["merged"]) == _files(check_runs["one"])
    assert set(_files(check_runs["one"])) >= {"out/gate.xml", "out/gate.sarif"}
    assert any(f.startswith("cx/R15-unmap-unmapped") for f in _files(check_runs["one"]))
    # the report options of merge are added to the shards' command line
    code, out, _ = _run(["merge", *shards, "--format", "json", "--no-write"], capsys)
    assert code == 1 and json.loads(out)["verdicts"]


def _write(path: Path, doc: object) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def test_shards_that_do_not_fit_are_refused_and_nothing_is_written(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "small.dmabuf"
    core = (ROOT / "specs" / "rules" / "core.dmabuf").as_posix()
    text = Path(SMALL).read_text().replace("../../../specs/rules/core.dmabuf", core)
    text = text[:text.index("check heap")]  # the mutant only
    spec.write_text(text)
    argv = [*CHECK, "--no-write", "--engine", "bmc"]
    argv[1] = str(spec)
    for k in (1, 2, 3):  # one run: two of the shards are empty
        assert _run([*argv, "--shard", f"{k}/3", "--shard-output", f"s{k}.json"],
                    capsys)[0] in (0, 1)
    s1, s2, s3 = (str(tmp_path / f"s{k}.json") for k in (1, 2, 3))
    doc = json.loads(Path(s2).read_text())
    other = doc | {"code": "0" * 64, "tool": "0.0.9"}
    v2 = doc | {"version": 2}
    work = doc | {"work": "1" * 64}
    evil = doc | {"results": [[0, {"#type": "Popen", "fields": {}}]]}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    cases = [
        ([s1, s2], "shard 3 of 3 missing"),
        ([s1, s2, s3, _write(tmp_path / "c.json", doc)], "shard 2/3 is given twice"),
        ([s1, _write(tmp_path / "o.json", other), s3], "another version of dmabuf-check"),
        ([s1, _write(tmp_path / "v.json", v2), s3], "a shard result of format 2"),
        ([s1, _write(tmp_path / "w.json", work), s3], "come from different runs"),
        ([s1, _write(tmp_path / "e.json", evil), s3], "no command writes"),
        ([s1, str(bad), s3], r"bad.json:1:2: not a shard result \(not JSON"),
        ([s1, str(tmp_path / "missing.json")], "no such file"),
    ]
    for paths, message in cases:
        code, _, err = _run(["merge", *paths], capsys)
        assert code == 2, message
        assert re.search(message, err), (message, err)
        assert "Traceback" not in err
    # the shards fit together, but the spec here has changed since they ran
    spec.write_text(text.replace("depth 4", "depth 3"))
    code, _, err = _run(["merge", s1, s2, s3], capsys)
    assert code == 2 and "other specs than those here now" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["bad.json", "c.json", "e.json", "o.json", "s1.json", "s2.json", "s3.json",
         "small.dmabuf", "v.json", "w.json"])  # no report, no counterexample


def test_shard_options_without_a_shard_and_merge_options_the_command_lacks(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(["check", SMALL, "--shard", "5/4"], capsys)
    assert code == 2 and "shards are numbered from 1 to 4" in err
    code, _, err = _run(["check", SMALL, "--shard-output", "x.json", "--no-write"], capsys)
    assert code == 2 and "add --shard" in err
    argv = ["selftest", "--mutant", "double_put", "--engine", "bmc", "-j", "1"]
    out = tmp_path / "s.json"
    assert _run([*argv, "--shard", "1/1", "--shard-output", str(out)], capsys)[0] == 0
    code, _, err = _run(["merge", str(out), "--junit", "x.xml"], capsys)
    assert code == 2 and "which takes no --junit x.xml" in err
    assert not (tmp_path / "x.xml").exists()


def test_a_merged_certificate_equals_one_unsharded_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["validate-exporter", "system_heap", "--profile", "v6.16+", "--engine", "bmc",
            "--engine", "hypothesis", "--scope", "1x1", "--depth", "3", "--examples", "30",
            "--explore-scope", "1x1", "--explore-depth", "4", "-j", "2", "--no-write",
            "--output-dir", str(tmp_path / "one")]
    code = _run(argv, capsys)[0]
    for k in (1, 2):
        assert _run([*argv, "--shard", f"{k}/2", "--shard-output", str(tmp_path / f"{k}.j")],
                    capsys)[0] == 0
    assert _run(["merge", str(tmp_path / "1.j"), str(tmp_path / "2.j"), "--output-dir",
                 str(tmp_path / "merged")], capsys)[0] == code
    for name in ("system_heap.md", "system_heap.json"):
        assert (tmp_path / "merged" / name).read_bytes() == (tmp_path / "one" / name
                                                              ).read_bytes()


def test_a_merged_kill_matrix_equals_one_unsharded_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["selftest", "--mutant", "double_put", "--engine", "bmc", "--engine",
            "hypothesis", "-j", "2", "--format", "json"]
    code, one, _ = _run(argv, capsys)
    for k in (1, 2):
        assert _run([*argv, "--shard", f"{k}/2", "--shard-output", str(tmp_path / f"{k}.j")],
                    capsys)[0] == code
    merged_code, merged, _ = _run(["merge", str(tmp_path / "2.j"), str(tmp_path / "1.j")],
                                  capsys)
    assert merged_code == code == 0

    def blank(text: str) -> str:
        return re.sub(r'"seconds": [0-9.e-]+', '"seconds": 0', text)

    assert blank(merged) == blank(one)
    assert code_fingerprint() in (tmp_path / "1.j").read_text()


def test_a_merged_importer_certificate_equals_one_unsharded_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["validate-importer", "gem_prime_import", "--profile", "v6.16+", "--engine", "bmc",
            "--scope", "1x1", "--depth", "2", "-j", "2", "--no-write", "--format", "json",
            "-o", str(tmp_path / "one.json")]
    code = _run(argv, capsys)[0]
    for k in (1, 2):
        assert _run([*argv, "--shard", f"{k}/2", "--shard-output", str(tmp_path / f"{k}.j")],
                    capsys)[0] == 0
    # -o given to merge replaces the shards' own
    assert _run(["merge", str(tmp_path / "1.j"), str(tmp_path / "2.j"), "-o",
                 str(tmp_path / "merged.json")], capsys)[0] == code
    assert (tmp_path / "merged.json").read_bytes() == (tmp_path / "one.json").read_bytes()
