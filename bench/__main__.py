"""Run every benchmark in turn: `python -m bench [--district]`."""

import sys

from bench import demo_generation, ingest, push, soak

if __name__ == "__main__":
    demo_generation.main(sys.argv[1:])
    ingest.main([])
    push.main([])
    soak.main([])
