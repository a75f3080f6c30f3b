"""``python -m brianrules.study POINT_DIR``: train one point of a sweep (the
process that `run_point` starts)."""

import sys

from .point import main

if __name__ == "__main__":
    sys.exit(main())
