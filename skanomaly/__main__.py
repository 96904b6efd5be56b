"""``python -m skanomaly``: the same command line as the ``skanomaly`` console script."""

import sys

from skanomaly.benchmarks.cli import main

if __name__ == "__main__":
    sys.exit(main())
