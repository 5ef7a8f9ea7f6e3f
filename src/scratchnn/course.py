"""The course's step-by-step API ("Neural Networks and Deep Learning", week 4): another name
for :mod:`scratchnn.companions.course`, so that ``from scratchnn import course`` keeps working."""

from .companions.course import *  # noqa: F403 -- every name that module exports
from .companions.course import __all__  # noqa: F401
