"""ONNX files: a network as an ONNX graph (export), and an ONNX graph as a network (import).

Out of the reading path: ONNX is how a scratchnn network reaches other tools (ONNX Runtime,
Netron, PyTorch) and how a network trained elsewhere comes back, to be read with scratchnn's
plots, ``gradcheck`` and layer walk-throughs. Needs ``pip install "scratchnn[onnx]"``; the
``onnx`` package builds and checks every graph (no protobuf is written by hand here).

Export (:func:`export_onnx`) writes ONNX opset :data:`OPSET` (IR version :data:`IR_VERSION`)
with one input, ``input`` of shape (batch, ...), the batch dimension left free, and two
outputs of shape (batch, outputs): ``probabilities`` (the output activation: softmax,
sigmoid or identity) and ``logits`` (the scores that ``Sequential.predict`` returns). Each
layer is one node (an Affine layer fed with images is a Flatten and a Gemm):

======================  ====================================================
scratchnn               ONNX
======================  ====================================================
Affine                  Gemm (y = x W + b)
ReLU, LeakyReLU         Relu, LeakyRelu (alpha)
Sigmoid, Tanh           Sigmoid, Tanh
Identity                Identity
Convolution2D           Conv (strides, pads; group 1, dilations 1)
MaxPooling2D            MaxPool
AveragePooling2D        AveragePool (count_include_pad = 1: padding counts as zeros)
Flatten                 Flatten (axis 1)
BatchNormalization      BatchNormalization (inference: the running statistics)
Dropout                 Dropout (inference: the identity; the ratio is kept)
======================  ====================================================

The graph's ``metadata_props`` hold scratchnn's version, the data set, the preprocessing
(pixel scaling, input shape, layout, dtype), the classes and the model file's metadata.

Import (:func:`import_onnx`) reads graphs that are a chain of those operators from the one
input to the output (and MatMul followed by Add, Reshape to 2-D, opsets
:data:`OLDEST_OPSET` and newer). Anything else, an operator, an attribute value scratchnn
cannot express, a branch, a cycle, a missing initializer, gets a ValueError naming the
node and what is supported: a graph is read exactly or not at all.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from .._args import positive_int as positive_int_arg
from .._validate import float_dtype, positive_int
from .._version import __version__
from ..conv import AveragePooling2D, Convolution2D, Flatten, MaxPooling2D
from ..data.registry import IMAGE_SETS, POINT_SETS
from ..layers import (
    OUTPUTS,
    Affine,
    Identity,
    IdentityMSE,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    Tanh,
)
from ..network import Sequential
from ..regularization import BatchNormalization, Dropout
from .atomic import atomic_write
from .model_file import load_model

__all__ = ["OPSET", "IR_VERSION", "OLDEST_OPSET", "INSTALL", "SUPPORTED_OPS", "require_onnx",
           "export_onnx", "import_onnx", "compare_with_onnxruntime", "add_arguments", "run"]

#: The opset that :func:`export_onnx` writes, and the oldest IR version that carries it.
OPSET = 17
IR_VERSION = 8
#: The oldest opset :func:`import_onnx` reads (its operators mean what they mean today).
OLDEST_OPSET = 11
INSTALL = 'pip install "scratchnn[onnx]"'
INPUT, LOGITS, PROBABILITIES = "input", "logits", "probabilities"

#: The output layers, their name in ``OUTPUTS`` and the ONNX operator of their activation.
_OUTPUT_OPS = {SoftmaxCrossEntropy: ("softmax", "Softmax"),
               SigmoidBinaryCrossEntropy: ("sigmoid", "Sigmoid"),
               IdentityMSE: ("identity", "Identity")}
_ACTIVATION_OPS = {ReLU: "Relu", Sigmoid: "Sigmoid", Tanh: "Tanh", Identity: "Identity"}
_TENSOR_DTYPES = {1: np.dtype(np.float32), 11: np.dtype(np.float64)}  # FLOAT, DOUBLE

SUPPORTED_OPS = ("Gemm", "MatMul (+ Add)", "Relu", "LeakyRelu", "Sigmoid", "Tanh",
                 "Softmax (last)", "Conv", "MaxPool", "AveragePool", "Flatten",
                 "Reshape (to 2-D)", "BatchNormalization", "Dropout", "Identity")


def require_onnx():
    """The ``onnx`` package, or an ImportError saying how to install it."""
    try:
        import onnx
    except ImportError as err:
        raise ImportError(f"ONNX files need the onnx package: {INSTALL}") from err
    return onnx


# --- export ------------------------------------------------------------------------------


class _GraphBuilder:
    """Nodes and initializers of a chain: each node takes the previous node's output."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.nodes: list = []
        self.initializers: list = []
        self.current = INPUT

    def const(self, name: str, value) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(value, self.dtype), name))
        return name

    def node(self, op: str, name: str, *inputs: str, **attrs) -> None:
        from onnx import helper

        out = f"{name}.{op}"
        self.nodes.append(helper.make_node(op, [self.current, *inputs], [out], name=out,
                                           **attrs))
        self.current = out


def _export_layer(g: _GraphBuilder, layer, name: str, rank: int, names: dict) -> int:
    """Add the nodes of one layer; returns the rank of its output."""
    kind = type(layer)
    if kind in _ACTIVATION_OPS:
        g.node(_ACTIVATION_OPS[kind], name)
    elif kind is LeakyReLU:
        g.node("LeakyRelu", name, alpha=float(layer.alpha))
    elif kind is Dropout:
        seed = {} if layer.seed is None else {"seed": int(layer.seed)}
        g.node("Dropout", name, g.const(f"{name}.ratio", layer.ratio), **seed)
    elif kind is Flatten:
        g.node("Flatten", name, axis=1)
        return 2
    elif kind is Affine:
        if rank != 2:  # scratchnn's Affine flattens what it is given
            g.node("Flatten", name, axis=1)
        g.node("Gemm", name, g.const(names[id(layer.W)], layer.W),
               g.const(names[id(layer.b)], layer.b))
        return 2
    elif kind is Convolution2D:
        g.node("Conv", name, g.const(names[id(layer.W)], layer.W),
               g.const(names[id(layer.b)], layer.b), kernel_shape=list(layer.kernel_size),
               strides=[layer.stride] * 2, pads=[layer.pad] * 4, dilations=[1, 1], group=1)
    elif kind in (MaxPooling2D, AveragePooling2D):
        extra = {"count_include_pad": 1} if kind is AveragePooling2D else {}
        g.node("MaxPool" if kind is MaxPooling2D else "AveragePool", name,
               kernel_shape=list(layer.pool), strides=[layer.stride] * 2,
               pads=[layer.pad] * 4, **extra)
    elif kind is BatchNormalization:
        g.node("BatchNormalization", name, g.const(names[id(layer.gamma)], layer.gamma),
               g.const(names[id(layer.beta)], layer.beta),
               g.const(f"{name}.running_mean", layer.running_mean),
               g.const(f"{name}.running_var", layer.running_var),
               epsilon=float(layer.eps), momentum=float(layer.momentum))
    else:
        supported = sorted(c.__name__ for c in (*_ACTIVATION_OPS, LeakyReLU, Dropout, Flatten,
                           Affine, Convolution2D, MaxPooling2D, AveragePooling2D,
                           BatchNormalization))
        raise ValueError(f"{name} ({kind.__name__}) has no ONNX form here; export supports "
                         f"{', '.join(supported)}")
    return rank


def _model_info(model: Sequential, metadata: dict | None) -> dict:
    """The model file's metadata (a loaded model's), updated with ``metadata``."""
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    saved = getattr(model, "meta", None)
    saved = saved.get("metadata") if isinstance(saved, dict) else None
    info = {**(saved if isinstance(saved, dict) else {}), **(metadata or {})}
    try:
        json.dumps(info)
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata must hold JSON values only: {err}") from err
    return info


def _input_shape(model: Sequential, info: dict, given: Sequence[int] | None) -> tuple:
    """One sample's shape: ``given``, the metadata's, the model's ``input_dim``, or the
    width of a first Affine layer."""
    shape = given if given is not None else info.get("input_shape")
    if shape is None:
        shape = getattr(model, "input_dim", None)
    if shape is None and isinstance(model.layers[0], Affine):
        shape = (model.layers[0].W.shape[0],)
    if shape is None:
        raise ValueError(f"cannot tell the input shape of this network (its first layer is "
                         f"{type(model.layers[0]).__name__}): pass input_shape=(C, H, W)")
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or not shape:
        raise ValueError(f"input_shape must be a sequence of positive ints, got {shape!r}")
    return tuple(positive_int(n, "input_shape") for n in shape)


def _preprocessing(info: dict, shape: tuple, dtype: np.dtype) -> dict:
    """What an input must be: shape, layout, dtype and scaling (from the data set)."""
    dataset = info.get("dataset") or info.get("options", {}).get("dataset")
    if "preprocessing" in info:
        scaling = info["preprocessing"]
    elif dataset in IMAGE_SETS:
        scaling = "pixel values / 255, in [0, 1]"
    elif dataset in POINT_SETS:
        scaling = "none: the 2-D points as scratchnn.data draws them"
    else:
        scaling = "not recorded"
    layout = "(N, C, H, W)" if len(shape) == 3 else "(N, features)" if len(shape) == 1 \
        else "(N, ...)"
    return {"input_shape": list(shape), "layout": layout, "dtype": str(dtype),
            "scaling": scaling}


def _props(model: Sequential, info: dict, shape: tuple, dtype: np.dtype) -> dict[str, str]:
    """The graph's metadata_props (ONNX keeps text only: JSON where a value is not)."""
    dataset = info.get("dataset") or info.get("options", {}).get("dataset")
    props = {"scratchnn_version": __version__,
             "output": _OUTPUT_OPS[type(model.loss_layer)][0],
             "dataset": str(dataset) if dataset else "not recorded",
             "preprocessing": json.dumps(_preprocessing(info, shape, dtype)),
             "input_shape": json.dumps(list(shape)),
             "metadata": json.dumps(info)}
    if info.get("classes"):
        props["classes"] = json.dumps(info["classes"])
    return props


def _build_graph(model: Sequential, shape: tuple, dtype: np.dtype, outputs: int):
    """The ONNX graph of ``model`` for samples of ``shape``."""
    from onnx import helper

    g = _GraphBuilder(dtype)
    names = {id(p): name for name, p in model.params.items()}
    rank = len(shape) + 1
    for i, layer in enumerate(model.layers):
        rank = _export_layer(g, layer, f"layer{i}", rank, names)
    g.nodes[-1].output[0] = LOGITS
    op = _OUTPUT_OPS[type(model.loss_layer)][1]
    g.nodes.append(helper.make_node(op, [LOGITS], [PROBABILITIES], name=PROBABILITIES,
                                    **({"axis": 1} if op == "Softmax" else {})))
    elem = helper.np_dtype_to_tensor_dtype(dtype)
    inputs = [helper.make_tensor_value_info(INPUT, elem, ["batch", *shape])]
    outs = [helper.make_tensor_value_info(name, elem, ["batch", outputs])
            for name in (PROBABILITIES, LOGITS)]
    return helper.make_graph(g.nodes, type(model).__name__, inputs, outs, g.initializers)


def export_onnx(model: Sequential, path: str | os.PathLike, metadata: dict | None = None, *,
                dtype: DTypeLike | None = None,
                input_shape: Sequence[int] | None = None) -> Path:
    """Write ``model`` to ``path`` as an ONNX graph (opset :data:`OPSET`), atomically.

    Outputs ``probabilities`` (softmax, sigmoid or identity of the scores) and ``logits``
    (what ``model.predict`` returns), both (batch, outputs); the batch size is free.
    ``metadata`` (JSON values) updates a loaded model's file metadata: its ``dataset``,
    ``classes``, ``input_shape`` and ``preprocessing`` go into the graph's metadata_props.
    ``dtype`` is the graph's float type (default: the model's; ONNX Runtime computes Conv
    and AveragePool in float32 only). ``input_shape`` is one sample's shape, for a network
    that does not record it (a ConvNet built by hand). Returns the path.
    """
    onnx = require_onnx()
    from onnx import helper

    if not isinstance(model, Sequential):
        raise TypeError(f"expected a Sequential model, got {type(model).__name__}")
    if type(model.loss_layer) not in _OUTPUT_OPS:
        raise ValueError(f"output layer {type(model.loss_layer).__name__} has no ONNX form")
    info = _model_info(model, metadata)
    dtype = model.dtype if dtype is None else float_dtype(dtype)
    shape = _input_shape(model, info, input_shape)
    # The shape must fit the layers: one sample through the network says so.
    outputs = model.predict(np.zeros((1, *shape), model.dtype)).shape[1]
    graph = _build_graph(model, shape, dtype, outputs)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="scratchnn", producer_version=__version__,
                              ir_version=IR_VERSION, doc_string=repr(model))
    helper.set_model_props(proto, _props(model, info, shape, dtype))
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(path) as f:
        f.write(proto.SerializeToString())
    return Path(path)


# --- import ------------------------------------------------------------------------------


def _label(node) -> str:
    return f"node {node.name!r} ({node.op_type})" if node.name else f"a {node.op_type} node"


def _load(path: Path):
    """The ModelProto in ``path``, or a ValueError saying why it is not one."""
    onnx = require_onnx()
    from google.protobuf.message import DecodeError

    if path.is_dir():
        raise ValueError(f"{path}: a folder, not an ONNX file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such ONNX file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: an empty file, not an ONNX model")
    try:
        proto = onnx.load(path)
    except (DecodeError, RuntimeError, ValueError, OSError) as err:
        raise ValueError(f"{path}: truncated or corrupt ONNX file ({err})") from err
    if not proto.HasField("graph") or not proto.graph.node:
        raise ValueError(f"{path}: not an ONNX model (no graph, or a graph without nodes): "
                         "truncated or corrupt")
    return proto


def _opset(proto, path: Path) -> int:
    """The version of the default ONNX domain, refused outside what is read here."""
    onnx = require_onnx()
    versions = {o.domain: o.version for o in proto.opset_import}
    other = sorted(d for d in versions if d not in ("", "ai.onnx"))
    version = versions.get("", versions.get("ai.onnx"))
    newest = onnx.defs.onnx_opset_version()
    if version is None or other:
        raise ValueError(f"{path}: scratchnn reads the default ONNX domain only, the graph "
                         f"uses {other or 'none'}")
    if not OLDEST_OPSET <= version <= newest:
        raise ValueError(f"{path}: opset {version}; scratchnn reads opsets {OLDEST_OPSET} to "
                         f"{newest}")
    return version


def _constants(graph) -> dict[str, np.ndarray]:
    """The initializers and the outputs of Constant nodes, by name."""
    from onnx import TensorProto, helper, numpy_helper

    consts = {}
    for t in graph.initializer:
        try:
            consts[t.name] = numpy_helper.to_array(t)
        except (TypeError, ValueError) as err:  # e.g. fewer bytes than its shape needs
            raise ValueError(f"initializer {t.name!r} is unreadable: {err}") from err
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.output:
            value = helper.get_attribute_value(node.attribute[0])
            if isinstance(value, TensorProto):
                value = numpy_helper.to_array(value)
            elif not isinstance(value, (int, float, list, bytes)):
                raise ValueError(f"{_label(node)}: a {node.attribute[0].name} constant; "
                                 "scratchnn reads dense tensors and numbers")
            consts[node.output[0]] = np.asarray(value)
    return consts


def _check_acyclic(nodes: list, consts: dict) -> None:
    """Refuse a graph whose nodes feed each other in a circle (Kahn's topological sort)."""
    made = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    needs = [{made[n] for n in node.input if n in made and n not in consts} for node in nodes]
    users: dict[int, list[int]] = {}
    for i, deps in enumerate(needs):
        for dep in deps:
            users.setdefault(dep, []).append(i)
    waiting = [len(deps) for deps in needs]
    ready = [i for i, count in enumerate(waiting) if count == 0]
    for i in ready:  # (the list grows while it is read)
        for user in users.get(i, []):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    if len(ready) < len(nodes):
        names = ", ".join(_label(n) for i, n in enumerate(nodes) if waiting[i])
        raise ValueError(f"the graph has a cycle through {names}: scratchnn reads chains of "
                         "layers from the input to the output")


def _chain(graph, consts: dict) -> list:
    """The graph's nodes in order, each fed by the one before; a ValueError otherwise."""
    nodes = [n for n in graph.node if n.op_type != "Constant"]
    data = [i.name for i in graph.input if i.name not in consts]
    if len(data) != 1:
        raise ValueError(f"scratchnn reads graphs with one data input, this one has "
                         f"{len(data)}: {data}")
    _check_acyclic(nodes, consts)
    made = {out for node in nodes for out in node.output} | {data[0]}
    users: dict[str, list] = {}
    for node in nodes:
        for name in dict.fromkeys(node.input):  # (a node may take one tensor twice)
            if name and name not in consts:
                if name not in made:
                    raise ValueError(f"input {name!r} of {_label(node)} is missing: no "
                                     "initializer, Constant or node gives it")
                users.setdefault(name, []).append(node)
    for node in nodes:
        if not node.output or not node.output[0]:
            raise ValueError(f"{_label(node)} has no output")
    chain, current = [], data[0]
    while current in users:
        if len(users[current]) > 1:
            raise ValueError(f"tensor {current!r} feeds {len(users[current])} nodes ("
                             f"{', '.join(_label(n) for n in users[current])}): scratchnn "
                             "reads chains of layers, without branches")
        node = users[current][0]
        chain.append(node)
        for name in node.input:
            if name and name not in consts and name != current:
                raise ValueError(f"{_label(node)} takes {name!r} beside the previous "
                                 "node's output: scratchnn reads chains of layers only")
        for extra in node.output[1:]:
            if extra and (extra in users or extra in {o.name for o in graph.output}):
                raise ValueError(f"{_label(node)}: its second output {extra!r} is used; "
                                 "scratchnn reads the first output only")
        current = node.output[0]
    if not chain:
        raise ValueError(f"the input {data[0]!r} feeds no node")
    on_chain = {id(n) for n in chain}
    left = [n for n in nodes if id(n) not in on_chain]
    if left:
        raise ValueError(f"{', '.join(_label(n) for n in left)} not on the chain from the "
                         "input to the output: scratchnn reads chains of layers only")
    _check_outputs(graph, chain, current)
    return chain


def _check_outputs(graph, chain: list, final: str) -> None:
    """The graph's outputs: the last tensor, and maybe the scores before the last node."""
    allowed = {final, chain[-1].input[0]} if chain else {final}
    names = [o.name for o in graph.output]
    if final not in names or not set(names) <= allowed:
        raise ValueError(f"the graph's outputs {names} must be its last tensor {final!r} "
                         "(and maybe the one before the last node)")


class _Reader:
    """What the converters of the nodes share: the constants, the dtype, the opset and
    the current rank and per-sample shape of the data."""

    def __init__(self, consts: dict, dtype: np.dtype, opset: int, shape: list) -> None:
        self.consts = consts
        self.dtype = dtype
        self.opset = opset
        self.shape = shape  # one sample's dims, None where unknown

    @property
    def rank(self) -> int:
        return len(self.shape) + 1

    def attrs(self, node, allowed: Sequence[str]) -> dict:
        from onnx import helper

        found = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        unknown = sorted(set(found) - set(allowed))
        if unknown:
            raise ValueError(f"attribute {', '.join(unknown)} is not supported (this "
                             f"operator takes {', '.join(allowed) or 'none'})")
        return found

    def const(self, node, i: int, what: str, optional: bool = False) -> np.ndarray | None:
        name = node.input[i] if i < len(node.input) else ""
        if not name:
            if optional:
                return None
            raise ValueError(f"needs {what} (input {i})")
        if name not in self.consts:
            raise ValueError(f"{what} {name!r} must be an initializer or a Constant")
        value = self.consts[name]
        return value.astype(self.dtype) if value.dtype.kind == "f" else value

    def need_rank(self, *ranks: int) -> None:
        if self.rank not in ranks:
            raise ValueError(f"takes {' or '.join(f'{r}-D' for r in ranks)} data here, got "
                             f"{self.rank}-D (one sample {self.shape})")


def _decimal(value: float, dtype: DTypeLike = np.float32) -> float:
    """A float that ONNX kept in ``dtype`` (attributes: float32), as the shortest decimal
    that gives it back: 0.8 rather than 0.800000011920929, as it was written."""
    return float(str(np.dtype(dtype).type(value)))


def _same(values, name: str, default: int, count: int) -> int:
    """One int from an attribute list whose values must all be equal (strides, pads)."""
    values = list(values) if values is not None else [default] * count
    if len(values) != count or len(set(values)) != 1:
        raise ValueError(f"{name} {values}: scratchnn takes {count} equal values")
    return int(values[0])


def _window(r: _Reader, attrs: dict, kernel: tuple) -> tuple[int, int]:
    """(stride, pad) of a Conv or pooling node, refusing what scratchnn cannot express."""
    r.need_rank(4)
    if len(kernel) != 2:
        raise ValueError(f"kernel {list(kernel)}: scratchnn's layers are 2-D")
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID"):
        raise ValueError(f"auto_pad {attrs['auto_pad']!r}: give explicit pads (scratchnn "
                         "takes NOTSET or VALID)")
    if attrs.get("ceil_mode", 0):
        raise ValueError("ceil_mode 1: scratchnn's windows round down (ceil_mode 0)")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise ValueError(f"dilations {attrs['dilations']}: scratchnn takes 1 only")
    stride = _same(attrs.get("strides"), "strides", 1, 2)
    pad = _same(attrs.get("pads"), "pads", 0, 4)
    return stride, pad


def _conv(r: _Reader, node) -> Convolution2D:
    attrs = r.attrs(node, ("kernel_shape", "strides", "pads", "dilations", "group",
                           "auto_pad"))
    W = r.const(node, 1, "weight")
    if W.ndim != 4:
        raise ValueError(f"weight of shape {W.shape}: scratchnn's convolution is 2-D")
    stride, pad = _window(r, attrs, W.shape[2:])
    if attrs.get("group", 1) != 1:
        raise ValueError(f"group {attrs['group']}: scratchnn's convolution takes group 1")
    if list(attrs.get("kernel_shape", W.shape[2:])) != list(W.shape[2:]):
        raise ValueError(f"kernel_shape {attrs['kernel_shape']} differs from the weight's "
                         f"{W.shape[2:]}")
    return Convolution2D(W, r.const(node, 2, "bias", optional=True), stride=stride, pad=pad)


def _pool(r: _Reader, node) -> MaxPooling2D | AveragePooling2D:
    names = ["kernel_shape", "strides", "pads", "dilations", "ceil_mode", "auto_pad"]
    names += ["storage_order"] if node.op_type == "MaxPool" else ["count_include_pad"]
    attrs = r.attrs(node, names)
    kernel = tuple(attrs.get("kernel_shape", ()))
    stride, pad = _window(r, attrs, kernel)
    if node.op_type == "MaxPool":
        return MaxPooling2D(kernel, stride, pad)
    if pad and not attrs.get("count_include_pad", 0):
        raise ValueError("count_include_pad 0 with padding: scratchnn's average pooling "
                         "counts padding as zeros (count_include_pad 1)")
    return AveragePooling2D(kernel, stride, pad)


def _gemm(r: _Reader, node) -> Affine:
    attrs = r.attrs(node, ("alpha", "beta", "transA", "transB"))
    r.need_rank(2)
    if attrs.get("transA", 0):
        raise ValueError("transA 1: the data must be (batch, features)")
    W = r.const(node, 1, "weight")
    if W.ndim != 2:
        raise ValueError(f"weight of shape {W.shape} is not 2-D")
    W = W.T if attrs.get("transB", 0) else W
    # alpha (x W) + beta b is an Affine layer with weight alpha W and bias beta b.
    W = W * W.dtype.type(attrs.get("alpha", 1.0)) if attrs.get("alpha", 1.0) != 1 else W
    b = r.const(node, 2, "bias", optional=True)
    return Affine(np.ascontiguousarray(W), _bias(b, W.shape[1], attrs.get("beta", 1.0)))


def _bias(b: np.ndarray | None, width: int, scale: float = 1.0) -> np.ndarray | None:
    """A bias that broadcasts over the batch, as the (width,) vector scratchnn keeps."""
    if b is None:
        return None
    if b.size not in (1, width) or (b.ndim == 2 and b.shape[0] != 1) or b.ndim > 2:
        raise ValueError(f"bias of shape {b.shape}: scratchnn's bias is one value per output "
                         f"({width},)")
    b = np.broadcast_to(b.reshape(-1), (width,)).copy()
    return b * b.dtype.type(scale) if scale != 1 else b


def _matmul(r: _Reader, node, add) -> Affine:
    """MatMul with a 2-D weight, and the Add after it when it adds a constant bias."""
    r.attrs(node, ())
    r.need_rank(2)
    W = r.const(node, 1, "weight")
    if W.ndim != 2:
        raise ValueError(f"weight of shape {W.shape} is not 2-D")
    b = None
    if add is not None:
        r.attrs(add, ())
        other = [name for name in add.input if name != node.output[0]]
        if len(other) != 1 or other[0] not in r.consts:
            raise ValueError(f"{_label(add)} must add a constant bias to the MatMul")
        b = _bias(r.consts[other[0]].astype(r.dtype), W.shape[1])
    return Affine(np.ascontiguousarray(W), b)


def _reshape(r: _Reader, node) -> Flatten:
    """Reshape to (batch, features): a Flatten, when the target shape says exactly that."""
    attrs = r.attrs(node, ("allowzero",))
    target = [int(v) for v in r.const(node, 1, "shape").reshape(-1)]
    features = math.prod(r.shape) if None not in r.shape else None
    if attrs.get("allowzero", 0) and 0 in target:
        raise ValueError(f"shape {target} with allowzero 1 is not a flattening")
    fits = len(target) == 2 and (
        (target[0] == 0 and target[1] in (-1, features))
        or (target[0] == -1 and features is not None and target[1] == features))
    if not fits:
        raise ValueError(f"shape {target} (data of one sample {r.shape}): scratchnn reads "
                         "Reshape to (batch, features) only: [0, -1], [-1, features]")
    return Flatten()


def _flatten(r: _Reader, node) -> Flatten:
    axis = r.attrs(node, ("axis",)).get("axis", 1)
    if axis % r.rank != 1:
        raise ValueError(f"axis {axis}: scratchnn flattens from axis 1 (batch kept)")
    return Flatten()


def _batch_norm(r: _Reader, node) -> BatchNormalization:
    attrs = r.attrs(node, ("epsilon", "momentum", "training_mode", "spatial"))
    r.need_rank(2, 4)
    if attrs.get("training_mode", 0) or not attrs.get("spatial", 1):
        raise ValueError("training_mode 1 or spatial 0: scratchnn reads the inference form "
                         "with per-channel statistics")
    names = ("scale", "bias", "mean", "var")
    gamma, beta, mean, var = (r.const(node, i + 1, what) for i, what in enumerate(names))
    layer = BatchNormalization.from_config(
        {"num_features": len(gamma), "momentum": _decimal(attrs.get("momentum", 0.9)),
         "eps": _decimal(attrs.get("epsilon", 1e-5)), "dtype": r.dtype},
        {"gamma": gamma, "beta": beta})
    layer.load_state({"running_mean": mean, "running_var": var})
    return layer


def _dropout(r: _Reader, node) -> Dropout:
    attrs = r.attrs(node, ("ratio", "seed", "is_test"))
    ratio = attrs.get("ratio", 0.5)
    if r.opset >= 12:
        given = r.const(node, 1, "ratio", optional=True)
        ratio = 0.5 if given is None else float(given)
        training = r.const(node, 2, "training_mode", optional=True)
        if training is not None and bool(training):
            raise ValueError("training_mode true: scratchnn reads the inference form")
    return Dropout(_decimal(ratio, r.dtype), seed=attrs.get("seed"))


def _activation(r: _Reader, node):
    if node.op_type == "LeakyRelu":
        return LeakyReLU(_decimal(r.attrs(node, ("alpha",)).get("alpha", 0.01)))
    r.attrs(node, ())
    return {"Relu": ReLU, "Sigmoid": Sigmoid, "Tanh": Tanh, "Identity": Identity}[
        node.op_type]()


_CONVERTERS = {"Conv": _conv, "MaxPool": _pool, "AveragePool": _pool, "Gemm": _gemm,
               "Reshape": _reshape, "Flatten": _flatten, "BatchNormalization": _batch_norm,
               "Dropout": _dropout, "Relu": _activation, "LeakyRelu": _activation,
               "Sigmoid": _activation, "Tanh": _activation, "Identity": _activation}


def _next_shape(r: _Reader, layer, inferred: list | None) -> list:
    """One sample's shape after ``layer``: ONNX's shape inference, else its rank alone."""
    if inferred is not None:
        return inferred
    if isinstance(layer, (Affine, Flatten)):
        return [None]
    if isinstance(layer, (Convolution2D, MaxPooling2D, AveragePooling2D)):
        return [None, None, None]
    return r.shape


def _layers(r: _Reader, chain: list, shapes: dict) -> list:
    """The layers of the nodes of ``chain`` (which holds no output activation)."""
    layers, i = [], 0
    while i < len(chain):
        node = chain[i]
        add = chain[i + 1] if i + 1 < len(chain) and chain[i + 1].op_type == "Add" else None
        try:
            if node.op_type == "MatMul":
                layer = _matmul(r, node, add)
                i += 1 if add is not None else 0
            elif node.op_type in _CONVERTERS:
                layer = _CONVERTERS[node.op_type](r, node)
            else:
                where = {"Softmax": " except as the graph's last node",
                         "Add": " except as the bias right after a MatMul"}.get(node.op_type, "")
                raise ValueError(f"operator {node.op_type} is not supported{where}; scratchnn "
                                 f"reads {', '.join(SUPPORTED_OPS)}")
        except (ValueError, TypeError) as err:
            raise ValueError(f"{_label(node)}: {err}") from err
        r.shape = _next_shape(r, layer, shapes.get(chain[i].output[0]))
        layers.append(layer)
        i += 1
    return layers


def _inferred_shapes(proto) -> dict[str, list]:
    """One sample's shape of each tensor whose rank ONNX's shape inference finds."""
    onnx = require_onnx()
    inferred = onnx.shape_inference.infer_shapes(proto)
    shapes = {}
    graph = inferred.graph
    for info in [*graph.value_info, *graph.input, *graph.output]:
        if info.type.tensor_type.HasField("shape"):
            dims = info.type.tensor_type.shape.dim
            shapes[info.name] = [d.dim_value if d.HasField("dim_value") else None
                                 for d in dims][1:]
    return shapes


def _output_layer(chain: list, props: dict, output: str | None, opset: int, rank: int):
    """(the output layer, the chain without its activation node); ``rank`` is that of the
    last node's input."""
    # (Only a scratchnn export's "output" means the output layer: another tool's may not.)
    name = output or (props.get("output") if "scratchnn_version" in props else None)
    last = chain[-1]
    if name is None:
        name = {"Softmax": "softmax", "Sigmoid": "sigmoid"}.get(last.op_type, "softmax")
    if name not in OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(OUTPUTS)}, got {name!r}")
    op = {"softmax": "Softmax", "sigmoid": "Sigmoid", "identity": "Identity"}[name]
    if last.op_type != op:
        return OUTPUTS[name](), chain
    if op == "Softmax":
        if any(a.name != "axis" for a in last.attribute):
            raise ValueError(f"{_label(last)}: scratchnn's softmax takes the attribute axis "
                             "only")
        axis = next((a.i for a in last.attribute), 1 if opset < 13 else -1)
        if rank != 2 or axis % 2 != 1:
            raise ValueError(f"{_label(last)}: softmax over axis {axis} of {rank}-D data; "
                             "scratchnn's softmax output is over the classes of (batch, "
                             "classes)")
    return OUTPUTS[name](), chain[:-1]


def _graph_input(graph, consts: dict) -> tuple[np.dtype, list]:
    """The dtype and one sample's shape (None where free) of the graph's data input."""
    data = next(i for i in graph.input if i.name not in consts)
    kind = data.type.tensor_type
    if kind.elem_type not in _TENSOR_DTYPES:
        raise ValueError(f"input {data.name!r} has ONNX element type {kind.elem_type}; "
                         "scratchnn computes in float32 (FLOAT) or float64 (DOUBLE)")
    dims = [d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim]
    if len(dims) < 2:
        raise ValueError(f"input {data.name!r} has {len(dims)} dimensions; scratchnn reads "
                         "batches: (batch, features), (batch, C, H, W), ...")
    return _TENSOR_DTYPES[kind.elem_type], dims[1:]


def _imported_meta(proto, props: dict[str, str], path: Path, opset: int, shape: list) -> dict:
    """``model.meta`` of an imported graph: where it came from, and its metadata (``props``,
    the graph's metadata_props)."""
    try:
        metadata = json.loads(props.get("metadata", "{}"))
    except ValueError:
        metadata = {}
    metadata = metadata if isinstance(metadata, dict) else {}
    if props.get("dataset", "not recorded") != "not recorded":
        metadata.setdefault("dataset", props["dataset"])
    if None not in shape:
        metadata.setdefault("input_shape", shape)
    return {"format": "onnx", "source": str(path), "opset": opset,
            "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
            "metadata_props": props, "metadata": metadata}


def import_onnx(path: str | os.PathLike, output: str | None = None) -> Sequential:
    """The :class:`Sequential` that the ONNX graph in ``path`` computes.

    The graph must be a chain of the operators in :data:`SUPPORTED_OPS` from its one
    input. ``output`` names the output layer ("softmax", "sigmoid" or "identity"); by
    default the one a scratchnn export records, else softmax for a graph ending in Softmax
    or in plain scores, sigmoid for one ending in Sigmoid. A final node that is that
    activation becomes the output layer: ``predict`` gives the scores before it and
    ``predict_proba`` the graph's output. The model's ``meta`` holds the graph's metadata.
    """
    onnx = require_onnx()
    path = Path(path)
    proto = _load(path)
    opset = _opset(proto, path)
    graph = proto.graph
    try:
        consts = _constants(graph)
        chain = _chain(graph, consts)
        dtype, shape = _graph_input(graph, consts)
        onnx.checker.check_model(proto, full_check=True)
        props = {p.key: p.value for p in proto.metadata_props}
        shapes = _inferred_shapes(proto)
        rank = len(shapes.get(chain[-1].input[0], [None])) + 1
        loss, chain = _output_layer(chain, props, output, opset, rank)
        r = _Reader(consts, dtype, opset, shape)
        layers = _layers(r, chain, shapes)
        if r.rank != 2:
            raise ValueError(f"the scores are {r.rank}-D (one sample {r.shape}); scratchnn's "
                             "output layers take (batch, outputs)")
        model = Sequential(layers or [Identity()], loss)
        if None not in shape:  # one sample through the network: the shapes must fit
            model.predict(np.zeros((1, *shape), dtype))
    except (ValueError, TypeError, onnx.checker.ValidationError,
            onnx.shape_inference.InferenceError) as err:
        raise ValueError(f"{path}: {err}") from err
    model.meta = _imported_meta(proto, props, path, opset, shape)
    if None not in shape:
        model.input_dim = tuple(shape)
    return model


# --- against ONNX Runtime ------------------------------------------------------------------


def compare_with_onnxruntime(model: Sequential, path: str | os.PathLike, x) -> dict:
    """The largest absolute differences between ONNX Runtime's outputs for the graph in
    ``path`` and ``model``'s, on the batch ``x``: {"probabilities": ..., "logits": ...}
    (logits only where the graph has them)."""
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError(f"comparing with ONNX Runtime needs onnxruntime: {INSTALL}") from err
    x = model.check_data(x)[0]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(str(path), options,
                                               providers=["CPUExecutionProvider"])
    except Exception as err:  # (onnxruntime's own error classes)
        hint = (" (ONNX Runtime has no float64 Conv or AveragePool: export with "
                "dtype=float32)" if "NOT_IMPLEMENTED" in str(err) else "")
        raise RuntimeError(f"ONNX Runtime cannot run {path}: {err}{hint}") from err
    names = [o.name for o in session.get_outputs()]
    if not set(names) <= {PROBABILITIES, LOGITS}:
        raise ValueError(f"{path}: outputs {names}, not those of a scratchnn export "
                         f"({PROBABILITIES!r}, {LOGITS!r})")
    graph_input = session.get_inputs()[0]
    feed = x.astype(np.float32 if graph_input.type == "tensor(float)" else np.float64)
    results = dict(zip(names, session.run(None, {graph_input.name: feed}), strict=True))
    logits = model.run(x)  # x was checked above
    ours = {PROBABILITIES: model.loss_layer.output(logits), LOGITS: logits}
    return {name: float(np.max(np.abs(results[name] - ours[name]))) for name in results}


# --- the command line ----------------------------------------------------------------------


def _shape_arg(text: str) -> tuple[int, ...]:
    try:
        return tuple(positive_int(int(v), "input shape") for v in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected sizes like 1,28,28, got {text!r}") from err


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``scratchnn export MODEL OUT``."""
    parser.add_argument("model", help="a model file (.npz) or checkpoint")
    parser.add_argument("out", help="the ONNX file to write (e.g. model.onnx)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default=None,
                        help="the graph's float type (default: the model's; ONNX Runtime "
                             "runs convolutions in float32 only)")
    parser.add_argument("--input-shape", type=_shape_arg, default=None, metavar="SIZES",
                        help="one sample's shape, e.g. 1,28,28, for a model file that does "
                             "not record it")
    parser.add_argument("--check", type=positive_int_arg, default=0, metavar="N",
                        help="run the graph in ONNX Runtime on N random inputs and print the "
                             "largest difference from scratchnn's predictions")


def run(args: argparse.Namespace) -> int:
    """Export ``args.model`` to ``args.out``; with ``--check``, compare with ONNX Runtime."""
    require_onnx()
    model = load_model(args.model)
    shape = _input_shape(model, _model_info(model, None), args.input_shape)
    out = export_onnx(model, args.out, dtype=args.dtype, input_shape=shape)
    print(f"wrote {out}: ONNX opset {OPSET}, input '{INPUT}' (batch, "
          f"{', '.join(map(str, shape))}), outputs '{PROBABILITIES}' and '{LOGITS}'")
    if args.check:
        x = np.random.default_rng(0).random((args.check, *shape)).astype(model.dtype)
        diffs = compare_with_onnxruntime(model, out, x)
        print(f"ONNX Runtime against scratchnn on {args.check} random inputs: largest "
              f"difference {diffs[PROBABILITIES]:.3g} (probabilities), "
              f"{diffs[LOGITS]:.3g} (logits)")
    return 0
