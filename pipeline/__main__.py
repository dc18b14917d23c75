"""``python -m pipeline``: see :mod:`pipeline.cli`."""

import gc
import sys

from pipeline.cli import main

code = main()
# The process ends here and its memory goes with it. Frozen, the objects left are skipped by the
# interpreter's final collections on the way out (~0.5 s after a local run); atexit handlers and
# the flush of open files still run.
gc.freeze()
sys.exit(code)
