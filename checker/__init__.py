"""dmabuf-check's front end and engines: the specification language, scenario runner and
(as they arrive) the explorers, solvers, reports and CLI."""
