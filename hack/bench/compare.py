#!/usr/bin/env python3
"""Prints runs of `make bench` side by side as a Markdown table, for docs/performance.md:

    python3 hack/bench/compare.py target/bench/bench-n200-*.json target/bench/bench-n1000-*.json
"""

import json
import sys

# No __pycache__ next to the sources: the repository does not ignore it.
sys.dont_write_bytecode = True

from report import markdown

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print(markdown([json.load(open(path)) for path in sys.argv[1:]]))
