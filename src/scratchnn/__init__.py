"""scratchnn: neural networks from scratch on NumPy, laid out as the study path reads.

Open the modules in this order (READING.md says which chapter each one follows):

1. :mod:`scratchnn.functions` — activations and losses as pure functions (chapters 3-4)
2. :mod:`scratchnn.gradient` — numerical gradients, gradient descent, gradient checks (4)
3. :mod:`scratchnn.layers` — layers with forward/backward, output layers (5)
4. :mod:`scratchnn.network` — Sequential: layers into a network (5)
5. :mod:`scratchnn.optim` — SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam (6)
6. :mod:`scratchnn.init`, :mod:`scratchnn.regularization` — initialisers, Dropout,
   BatchNormalization (6)
7. :mod:`scratchnn.conv` — convolution and pooling (7)
8. :mod:`scratchnn.models` — MLP, TwoLayerNet, SimpleConvNet, DeepConvNet (5-8)
9. :mod:`scratchnn.training` — the Trainer, callbacks and history, metrics

Beside the path: :mod:`scratchnn.data` (data sets), :mod:`scratchnn.files` (model files,
checkpoints, run folders, the book's pickled weights), :mod:`scratchnn.figures`,
:mod:`scratchnn.images`, :mod:`scratchnn.novelty` (does an input look like the training
data?), :mod:`scratchnn.companions` (the book's and the course's own APIs, also as
:mod:`scratchnn.book` and :mod:`scratchnn.course`), :mod:`scratchnn.sweeps` (hyper-parameter
searches on Dask), :mod:`scratchnn.files.onnx_format` (ONNX export and import),
:mod:`scratchnn.serve` (the local web page), the command line and the benchmark.
"""

from ._version import __version__
from .conv import AveragePooling2D, Convolution2D, Flatten, MaxPooling2D
from .data import load_catvnoncat, load_fashion_mnist, load_mnist
from .files import load_model, save_model
from .files.onnx_format import export_onnx, import_onnx
from .functions import sigmoid, softmax
from .gradient import gradient_check
from .layers import (
    Affine,
    IdentityMSE,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    Tanh,
)
from .models import MLP, DeepConvNet, SimpleConvNet, TwoLayerNet
from .network import Sequential
from .optim import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from .regularization import BatchNormalization, Dropout
from .sweeps import sweep
from .training import (
    CosineDecay,
    EarlyStopping,
    History,
    StepDecay,
    Trainer,
    evaluate,
    fit,
)

__all__ = [
    "AdaGrad", "Adam", "Affine", "AveragePooling2D", "BatchNormalization", "Convolution2D",
    "CosineDecay", "DeepConvNet", "Dropout", "EarlyStopping", "Flatten", "History", "IdentityMSE",
    "Layer", "LeakyReLU", "MLP", "MaxPooling2D", "Momentum", "Nesterov", "RMSprop", "ReLU", "SGD",
    "Sequential", "Sigmoid", "SigmoidBinaryCrossEntropy", "SimpleConvNet", "SoftmaxCrossEntropy",
    "StepDecay", "Tanh", "Trainer", "TwoLayerNet", "__version__", "evaluate", "export_onnx", "fit",
    "gradient_check", "import_onnx", "load_catvnoncat", "load_fashion_mnist", "load_mnist",
    "load_model", "save_model", "sigmoid", "softmax", "sweep"
]
