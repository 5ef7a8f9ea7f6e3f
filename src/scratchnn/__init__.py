"""scratchnn: neural networks from scratch on NumPy.

The public API, one module per concept:

- :mod:`scratchnn.functions` — activations and losses as pure functions
- :mod:`scratchnn.gradient` — numerical differentiation, gradient descent, gradient checks
- :mod:`scratchnn.layers` — layers with forward/backward
- :mod:`scratchnn.init` — weight initialisers
- :mod:`scratchnn.network` — Sequential, MLP and the book's TwoLayerNet
- :mod:`scratchnn.optim` — SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam
"""

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

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "SGD",
    "AdaGrad",
    "Adam",
    "Affine",
    "Dense",
    "Identity",
    "IdentityMSE",
    "Layer",
    "LeakyReLU",
    "Momentum",
    "Nesterov",
    "RMSprop",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SigmoidBinaryCrossEntropy",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TwoLayerNet",
    "__version__",
    "binary_cross_entropy",
    "cross_entropy_error",
    "gradient_check",
    "gradient_descent",
    "identity",
    "initialize",
    "leaky_relu",
    "log_softmax",
    "make_optimizer",
    "mean_squared_error",
    "numerical_diff",
    "numerical_gradient",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "softmax_cross_entropy",
    "step_function",
    "tanh",
]
