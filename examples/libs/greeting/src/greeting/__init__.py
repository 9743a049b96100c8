"""Shared greeting library.

The greeting template is a package resource (``messages.txt``) read through
importlib.resources, so it works from a plain checkout, an installed wheel and
a zipped application alike.
"""

from functools import lru_cache
from importlib.resources import files

__all__ = ["greet"]


@lru_cache(maxsize=1)
def _template() -> str:
    return files(__package__).joinpath("messages.txt").read_text(encoding="utf-8").strip()


def greet(name: str) -> str:
    """Return a greeting for ``name``, e.g. ``"Hello from greeting, world!"``."""
    return _template().format(name=name)
