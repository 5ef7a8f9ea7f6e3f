"""Files: model files, training checkpoints, run folders and the book's pickled weights.

Out of the reading path (the book's chapters are the engine's modules). Everything here is
written atomically (:mod:`~scratchnn.files.atomic`) and read without running code from the
file: model files and checkpoints are ``.npz`` archives read with ``allow_pickle=False``
(:mod:`~scratchnn.files.model_file`, :mod:`~scratchnn.files.checkpoint`), and the book's
``sample_weight.pkl`` goes through a restricted unpickler (:mod:`~scratchnn.files.pretrained`).
"""

from .atomic import atomic_write
from .checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from .model_file import load_model, read_model_meta, save_model
from .pretrained import load_sample_weights, safe_load_pickle, sample_network

__all__ = [
    "Checkpoint",
    "atomic_write",
    "load_model",
    "load_sample_weights",
    "read_checkpoint",
    "read_model_meta",
    "safe_load_pickle",
    "sample_network",
    "save_model",
    "write_checkpoint",
]
