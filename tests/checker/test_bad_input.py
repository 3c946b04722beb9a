"""Bad input never crashes the command line: each case is exit 2 with a located message and
no traceback, decided before any engine runs (flat chains of a thousand terms, scopes past
the limit, unreadable spec files, malformed counterexamples, an empty replay directory)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from checker.cli import main
from checker.counterexample.replay import Status, replay

ROOT = Path(__file__).resolve().parents[2]
PAIR = ROOT / "counterexamples" / "R5-put-without-reference-069fb3f3"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("op", ["and", "or", "+"])
def test_a_flat_chain_of_a_thousand_terms(tmp_path: Path, op: str) -> None:
    term = "b0.kref >= 0" if op != "+" else "b0.kref"
    body = f" {op} ".join([term] * 1000) + (" >= 0" if op == "+" else "")
    spec = tmp_path / "chain.dmabuf"
    spec.write_text(f"property p {{ always {body} }}\ncheck c {{ exporter ttm }}\n",
                    encoding="utf-8")
    code, out, err = run("check", "--no-write", str(spec))
    assert code == 2 and "chain.dmabuf:1:21: error[E004]" in err, err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("text, message", [
    ("check c { exporter ttm scope 1000x1000 }", "scope 1000x1000 is past the limit"),
    ("check c { exporter ttm scope 9x1 }", "at most 8 buffers"),
    ("check c { exporter ttm scope 5x5 }", "24 attachment slots in all"),
    ("scenario s { exporter ttm\n export(b0)\n get(b100000) }", "scope 100001x1 is past"),
    ("check c { exporter ttm depth 0 }", "depth 0: a check explores 1 to 1000 steps"),
    ("check c { exporter ttm depth 100000 }", "depth 100000"),
])
def test_limits_are_refused_at_once(tmp_path: Path, text: str, message: str) -> None:
    spec = tmp_path / "big.dmabuf"
    spec.write_text(text + "\n", encoding="utf-8")
    start = time.monotonic()
    code, _, err = run("check", "--no-write", str(spec))
    assert code == 2 and message in err and "error[E113]" in err, err
    assert time.monotonic() - start < 30, "refused before building a model"


def itf(tmp_path: Path, change: dict[str, object] | str) -> Path:
    data = json.loads(PAIR.with_suffix(".itf.json").read_text(encoding="utf-8"))
    if isinstance(change, dict):
        data["#meta"].update(change)
        text = json.dumps(data)
    else:
        text = change
    path = tmp_path / "counterexamples" / "t.itf.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("change, message", [
    ({"imports": 5}, "#meta.imports must be a list"),
    ({"imports": [5]}, "#meta.imports must be a list"),
    ({"importers": {"a": 1}}, "#meta.importers must be a list"),
    ({"scope": "1000x1000"}, "past the limit"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"#meta": {"format-version": "dmabuf-check counterexample v1", "finding": {"property":'
     ' "rules"}}, "states": [{"#meta": {}}, {"#meta": {"action": 7, "violations": 3}}]}',
     "error"),
])
def test_a_malformed_itf_trace_is_an_error_not_a_crash(tmp_path: Path,
                                                       change: dict[str, object] | str,
                                                       message: str) -> None:
    path = itf(tmp_path, change)
    result = replay(path)
    assert result.status is Status.ERROR and message in result.message, result.message
    # and the replay of the directory goes on to the next file
    good = path.parent / PAIR.with_suffix(".dmabuf").name
    good.write_text(PAIR.with_suffix(".dmabuf").read_text(encoding="utf-8"), encoding="utf-8")
    code, out, err = run("replay", str(path.parent))
    assert code == 2 and "1 still fails, 1 error" in out, out + err
    assert "Traceback" not in err


def test_replaying_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    code, _out, err = run("replay", str(tmp_path))
    assert code == 2 and "no counterexample files" in err


def test_a_lone_itf_trace_still_replays(tmp_path: Path) -> None:
    """A pair whose .dmabuf was deleted keeps its regression test: the trace replays."""
    path = itf(tmp_path, {})
    code, out, err = run("replay", str(path.parent))
    assert code == 0 and "1 counterexample: 1 still fails" in out, out + err
