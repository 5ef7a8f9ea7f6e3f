"""Training: the book's loop of chapters 4 to 6, with what a real run needs around it.

Read in this order: :mod:`~scratchnn.training.trainer` (the loop: shuffle, take a batch,
``train_step``, ``optimizer.step``), :mod:`~scratchnn.training.callbacks` (the history it
records, early stopping and learning-rate schedules) and :mod:`~scratchnn.training.metrics`
(loss, accuracy, confusion matrix); :mod:`~scratchnn.training.threads` is the BLAS thread
rule the loop runs under.
"""

from .callbacks import (
    EPOCH_FIELDS,
    Callback,
    CosineDecay,
    EarlyStopping,
    History,
    LearningRateSchedule,
    StepDecay,
)
from .metrics import classification_report, confusion_matrix, evaluate
from .threads import SMALL_PRODUCT, blas_thread_limit, training_blas_threads
from .trainer import Trainer, TrainingDiverged, fit

__all__ = [
    "EPOCH_FIELDS",
    "SMALL_PRODUCT",
    "Callback",
    "CosineDecay",
    "EarlyStopping",
    "History",
    "LearningRateSchedule",
    "StepDecay",
    "Trainer",
    "TrainingDiverged",
    "blas_thread_limit",
    "classification_report",
    "confusion_matrix",
    "evaluate",
    "fit",
    "training_blas_threads",
]
