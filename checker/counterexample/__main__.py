"""``python -m checker.counterexample [-v] FILE ...``: replay counterexample files.

Prints one line per file (its status and what happened; with ``-v`` the replayed run too).
Exit 0 when every file still fails as recorded, 1 when one is fixed or diverged, 2 when one
cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from checker.counterexample.replay import Status, replay


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    stream = out if out is not None else sys.stdout
    p = argparse.ArgumentParser(prog="python -m checker.counterexample", allow_abbrev=False,
                                description="Replay counterexample files on the model.")
    p.add_argument("files", nargs="+", metavar="FILE", help=".dmabuf or .itf.json files")
    p.add_argument("--verbose", "-v", action="store_true", help="show every replayed run")
    p.add_argument("--allow-python", action="store_true",
                   help="import the Python behaviours the files name (trusted files only)")
    args = p.parse_args(argv)
    code = 0
    for f in args.files:
        r = replay(f, allow_python=args.allow_python)
        stream.write(f"{r.path}: {r.message}\n")
        if r.details and (args.verbose or not r.passed):
            stream.write(r.details + "\n")
        if r.status is Status.ERROR:
            code = 2
        elif not r.passed:
            code = max(code, 1)
    return code


if __name__ == "__main__":
    sys.exit(main())
