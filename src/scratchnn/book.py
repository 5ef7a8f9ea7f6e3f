"""The book's names ("Deep Learning from Scratch", chapters 3-5): another name for
:mod:`scratchnn.companions.book`, so that ``from scratchnn.book import ...`` keeps working."""

from .companions.book import *  # noqa: F403 -- every name that module exports
from .companions.book import __all__  # noqa: F401
