"""moto's CloudFormation parses a template's YAML once per process, not at every call.

moto reads the whole template with PyYAML's pure-Python loader at CreateChangeSet, again at
ExecuteChangeSet, and again for GetTemplate and drift checks: about 0.2 s for the bootstrap
template each time. The parse is a pure function of the text, so it is kept; every caller gets
its own deep copy, because moto's stack code writes into the dictionary it is given.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

_LIMIT = 32
_parsed: dict[str, Any] = {}
_lock = threading.Lock()


def parse_template(original: Callable[[str], Any], template: str) -> Any:
    """``Stack.parse_template``, parsing each template text only once."""
    with _lock:
        kept = _parsed.get(template)
    if kept is None:
        kept = original(template)  # raises as before for a bad template, and nothing is kept
        with _lock:
            if len(_parsed) >= _LIMIT:
                _parsed.pop(next(iter(_parsed)))
            _parsed[template] = kept
    return copy.deepcopy(kept)


def change_set_parse_template(change_set: Any) -> None:
    """``ChangeSet._parse_template``: moto's same YAML-then-JSON parse, through the cache."""
    from moto.cloudformation.models import Stack

    change_set.template_dict = Stack.parse_template(change_set.template)
