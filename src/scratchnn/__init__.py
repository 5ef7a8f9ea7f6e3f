"""scratchnn: neural networks from scratch on NumPy.

The public API, one module per concept:

- :mod:`scratchnn.functions` — activations and losses as pure functions
- :mod:`scratchnn.gradient` — numerical differentiation, gradient descent, gradient checks
- :mod:`scratchnn.layers` — layers with forward/backward
- :mod:`scratchnn.init` — weight initialisers
- :mod:`scratchnn.network` — Sequential, MLP and the book's TwoLayerNet
- :mod:`scratchnn.optim` — SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam
- :mod:`scratchnn.conv` — Convolution2D, MaxPooling2D, AveragePooling2D, Flatten
- :mod:`scratchnn.regularization` — Dropout, BatchNormalization
- :mod:`scratchnn.convnet` — the book's SimpleConvNet and DeepConvNet
- :mod:`scratchnn.data` — MNIST, Fashion-MNIST, cat-vs-non-cat and toy data sets
- :mod:`scratchnn.train` — Trainer, History, callbacks, evaluation metrics
- :mod:`scratchnn.serialization` — model files (.npz, no pickle)
- :mod:`scratchnn.pretrained` — the book's sample weights through a restricted unpickler
- :mod:`scratchnn.plots` and :mod:`scratchnn.experiments` — figures (matplotlib Figures)
- :mod:`scratchnn.images` — your own digit images in the MNIST convention
- :mod:`scratchnn.course` and :mod:`scratchnn.book` — the course's and the book's APIs
- :mod:`scratchnn.reproduce` and :mod:`scratchnn.bench` — published numbers, benchmarks
"""

from .conv import AveragePooling2D, Conv2D, Convolution2D, Flatten, MaxPooling2D
from .convnet import DeepConvNet, SimpleConvNet
from .data import (
    load_catvnoncat,
    load_fashion_mnist,
    load_mnist,
    make_circles,
    make_sine,
    make_spirals,
    make_xor,
)
from .experiments import activation_distributions, plot_activation_histograms
from .functions import (
    binary_cross_entropy,
    cross_entropy_error,
    identity,
    leaky_relu,
    log_softmax,
    mean_squared_error,
    one_hot,
    relu,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    step_function,
    tanh,
)
from .gradient import gradient_check, gradient_descent, numerical_diff, numerical_gradient
from .images import load_digit, to_mnist
from .init import initialize
from .layers import (
    Affine,
    Dense,
    Identity,
    IdentityMSE,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    Tanh,
)
from .network import MLP, Sequential, TwoLayerNet
from .optim import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop, make_optimizer
from .plots import (
    plot_activations,
    plot_confusion_matrix,
    plot_first_layer_weights,
    plot_gradient_descent_path,
    plot_learning_curves,
    plot_misclassified,
)
from .pretrained import load_sample_weights, safe_load_pickle, sample_network
from .regularization import BatchNormalization, Dropout
from .serialization import load_model, read_model_meta, save_model
from .train import (
    CosineDecay,
    EarlyStopping,
    History,
    StepDecay,
    Trainer,
    TrainingDiverged,
    classification_report,
    confusion_matrix,
    evaluate,
    fit,
)

__version__ = "0.1.0"

__all__ = [
    "AdaGrad",
    "Adam",
    "Affine",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv2D",
    "Convolution2D",
    "CosineDecay",
    "DeepConvNet",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Flatten",
    "History",
    "Identity",
    "IdentityMSE",
    "Layer",
    "LeakyReLU",
    "MLP",
    "MaxPooling2D",
    "Momentum",
    "Nesterov",
    "RMSprop",
    "ReLU",
    "SGD",
    "Sequential",
    "Sigmoid",
    "SigmoidBinaryCrossEntropy",
    "SimpleConvNet",
    "SoftmaxCrossEntropy",
    "StepDecay",
    "Tanh",
    "Trainer",
    "TrainingDiverged",
    "TwoLayerNet",
    "__version__",
    "activation_distributions",
    "binary_cross_entropy",
    "classification_report",
    "confusion_matrix",
    "cross_entropy_error",
    "evaluate",
    "fit",
    "gradient_check",
    "gradient_descent",
    "identity",
    "initialize",
    "leaky_relu",
    "load_catvnoncat",
    "load_digit",
    "load_fashion_mnist",
    "load_mnist",
    "load_model",
    "load_sample_weights",
    "log_softmax",
    "make_circles",
    "make_optimizer",
    "make_sine",
    "make_spirals",
    "make_xor",
    "mean_squared_error",
    "numerical_diff",
    "numerical_gradient",
    "one_hot",
    "plot_activation_histograms",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_first_layer_weights",
    "plot_gradient_descent_path",
    "plot_learning_curves",
    "plot_misclassified",
    "read_model_meta",
    "relu",
    "safe_load_pickle",
    "sample_network",
    "save_model",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "step_function",
    "tanh",
    "to_mnist",
]
