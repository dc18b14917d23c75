"""Smoke-test the live endpoint and roll back on failure: ``python -m pipeline smoke`` as a script."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main(["smoke", *sys.argv[1:]]))
