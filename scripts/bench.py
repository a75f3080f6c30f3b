#!/usr/bin/env python
"""Throughput benchmark of the engines; writes BENCHMARKS.md at the repository root.

    python scripts/bench.py [--quick] [--out FILE] [--no-write]
"""

import sys

from brianrules.bench import main

if __name__ == "__main__":
    sys.exit(main())
