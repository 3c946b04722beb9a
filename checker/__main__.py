"""``python -m checker``: the ``dmabuf-check`` command line (``checker.cli``)."""

import sys

from checker.cli import main

if __name__ == "__main__":
    sys.exit(main())
