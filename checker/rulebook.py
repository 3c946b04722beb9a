"""The rulebook as it ships: ``docs/rules.md``, generated from the catalogue in
``model/rules.py`` (one section and one anchor per rule), and how reports point at it.

``dmabuf-check rules --markdown docs/rules.md`` regenerates the file; a test keeps it equal
to ``markdown()``. Every report names a rule's reference as ``docs/rules.md#r5``; SARIF's
``helpUri`` is that section's absolute URI: under the repository URL the installed
metadata declares (``[project.urls]`` Repository, Source or Homepage), else the file in this
checkout, else none (the help text carries the rule itself).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from model.rules import RULES, Rule

DOC = "docs/rules.md"
COMMAND = f"dmabuf-check rules --markdown {DOC}"
_REPOSITORY_LABELS = ("repository", "source", "homepage", "home")


def anchor(rule_id: str) -> str:
    return rule_id.lower()


def reference(rule_id: str) -> str:
    """``docs/rules.md#r5``: where a person reads the rule."""
    return f"{DOC}#{anchor(rule_id)}"


def _profiles(r: Rule) -> str:
    return ", ".join(r.profiles)


def section(r: Rule) -> str:
    lines = [f'<a id="{anchor(r.id)}"></a>', "", f"## {r.id} {r.title}", "", r.summary, "",
             "| | |", "|---|---|",
             f"| Kernel functions | {', '.join(f'`{f}()`' for f in r.kernel_functions)} |",
             f"| Responsible | {', '.join(p.value for p in r.parties)} |",
             f"| Kernel consequence when broken | "
             f"{', '.join(c.value for c in r.consequences)} |",
             f"| Kernel profiles | {_profiles(r)} |"]
    if r.versions:
        lines += ["", f"**Where kernel versions differ.** {r.versions}"]
    return "\n".join(lines)


def markdown() -> str:
    """The whole rulebook: an index, then one section per rule."""
    head = ["# The dma-buf rules R1..R" + str(len(RULES)), "",
            f"Generated from `model/rules.py` by `{COMMAND}`; do not edit by hand (a test "
            "checks that this file is current). Each rule says what the kernel demands, of "
            "whom (importer, exporter or the core), what the kernel does when it is broken, "
            "and under which kernel profiles it applies. `dmabuf-check explain R5` prints "
            "one rule in a terminal.", "",
            "| rule | title | responsible | consequence |", "|---|---|---|---|"]
    head += [f"| [{r.id}](#{anchor(r.id)}) | {r.title} | "
             f"{', '.join(p.value for p in r.parties)} | "
             f"{', '.join(c.value for c in r.consequences)} |" for r in RULES.values()]
    return "\n".join(head) + "\n\n" + "\n\n".join(section(r) for r in RULES.values()) + "\n"


def _repository() -> str | None:
    try:
        meta = metadata.metadata("dmabuf-check")
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in _REPOSITORY_LABELS:
            return str(url).strip().rstrip("/")
    return None


def checkout_doc() -> Path | None:
    """``docs/rules.md`` of the checkout this package runs from, when there is one."""
    path = Path(__file__).resolve().parents[1] / DOC
    return path if path.is_file() else None


def help_uri(rule_id: str) -> str | None:
    """The absolute URI of a rule's section, or None when there is nowhere to point."""
    repo = _repository()
    if repo is not None:
        return f"{repo}/blob/main/{DOC}#{anchor(rule_id)}"
    doc = checkout_doc()
    return f"{doc.as_uri()}#{anchor(rule_id)}" if doc is not None else None


__all__ = ["COMMAND", "DOC", "anchor", "checkout_doc", "help_uri", "markdown", "reference",
           "section"]
