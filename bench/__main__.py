"""`make bench`: the supervision benchmark with its defaults (other benchmarks run on their own)."""

from __future__ import annotations

import sys

from bench import supervision

if __name__ == "__main__":
    sys.exit(supervision.main(sys.argv[1:]))
