"""Companions to the two texts scratchnn follows, in their own spelling and layout.

- :mod:`scratchnn.companions.book`: "Deep Learning from Scratch" (Koki Saito), chapters
  3-5: the book's names and chapter 3's toy network (also ``scratchnn.book``).
- :mod:`scratchnn.companions.course`: the course "Neural Networks and Deep Learning",
  week 4: its column-major step-by-step functions and cat models (also ``scratchnn.course``).
- :mod:`scratchnn.companions.reproduce`: ``scratchnn reproduce``, every number the study
  notes quote from both, recomputed beside the published value.

Nothing is imported here: each is opened as its own module.
"""
