"""Entry point the workflows call: ``python scripts/run.py [options]`` = ``python -m pipeline run``."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
