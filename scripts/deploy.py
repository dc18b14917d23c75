"""Entry point the workflows call: ``python scripts/deploy.py [options]`` = ``python -m pipeline deploy``."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["deploy", *sys.argv[1:]]))
