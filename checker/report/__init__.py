"""Reports of a check run, for the CI gate: the exit code, a summary table for people
(``text``), a JSON rendering of the same, JUnit XML (``junit``) for CI test views and SARIF
2.1.0 (``sarif``) for GitHub code scanning.

Every writer takes the engines' ``Verdict`` values, and a mapping from counterexample name
to the files ``checker.counterexample.write`` wrote for it (``written(...)`` builds it).
Each report is deterministic: the same verdicts give the same bytes (no dates unless a
timestamp is passed, paths relative to the given root).
"""
