"""ONNX export and import, checked against ONNX Runtime (and PyTorch's exporter when present).

Needs ``pip install "scratchnn[onnx]"``; without onnx and onnxruntime these tests skip
(the one that checks the message saying so runs always). .ci/steps/10-onnx.sh installs
the extra and runs them.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings

import numpy as np
import pytest

from scratchnn import cli
from scratchnn._version import __version__
from scratchnn.conv import AveragePooling2D, Convolution2D, Flatten, MaxPooling2D
from scratchnn.data import load_mnist
from scratchnn.files import onnx_format
from scratchnn.files.model_file import load_model, save_model
from scratchnn.files.onnx_format import OPSET, export_onnx, import_onnx
from scratchnn.files.pretrained import sample_network
from scratchnn.layers import (
    OUTPUTS,
    Affine,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SigmoidBinaryCrossEntropy,
    SoftmaxCrossEntropy,
    Tanh,
)
from scratchnn.models import DeepConvNet, SimpleConvNet
from scratchnn.network import Sequential
from scratchnn.optim import Adam
from scratchnn.regularization import BatchNormalization, Dropout


def installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:  # set to None in sys.modules: made unimportable on purpose
        return False


HAVE_ONNX = installed("onnx") and installed("onnxruntime")
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason='needs pip install "scratchnn[onnx]"')
TOL = 1e-5


# --- helpers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(shared_data) -> np.ndarray:
    """500 MNIST test images, (500, 1, 28, 28) float32 in [0, 1]."""
    (_, _), (x_test, _) = load_mnist(data_dir=shared_data, flatten=False)
    return x_test[:500]


def ort_outputs(path, x: np.ndarray) -> dict[str, np.ndarray]:
    """ONNX Runtime's outputs for the graph in ``path``, by name."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: x}), strict=True))


def assert_matches_onnxruntime(model: Sequential, path, x: np.ndarray) -> dict[str, float]:
    """ONNX Runtime's probabilities and logits equal scratchnn's to TOL; the differences."""
    got = ort_outputs(path, x)
    logits = model.predict(x)
    ours = {"probabilities": model.loss_layer.output(logits), "logits": logits}
    assert set(got) == set(ours)
    for name, value in ours.items():
        assert got[name].shape == value.shape
        np.testing.assert_allclose(got[name], value, rtol=0, atol=TOL, err_msg=name)
    return {name: float(np.abs(got[name] - ours[name]).max()) for name in ours}


def assert_same_network(a: Sequential, b: Sequential) -> None:
    """Same layer types and configs, parameters, states and output layer, bit for bit."""
    assert [type(la) for la in b.layers] == [type(la) for la in a.layers]
    assert [la.config() for la in b.layers] == [la.config() for la in a.layers]
    assert type(b.loss_layer) is type(a.loss_layer)
    assert list(b.params) == list(a.params)
    for name, p in a.params.items():
        assert b.params[name].dtype == p.dtype, name
        np.testing.assert_array_equal(b.params[name], p, err_msg=name)
    for la, lb in zip(a.layers, b.layers, strict=True):
        for key, value in la.state().items():
            np.testing.assert_array_equal(lb.state()[key], value, err_msg=key)


def weights(rng, *shape, dtype=np.float32) -> np.ndarray:
    fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
    return (rng.standard_normal(shape) * np.sqrt(2 / fan_in)).astype(dtype)


def bias(rng, n: int) -> np.ndarray:
    return rng.normal(0, 0.1, n).astype(np.float32)


def batch_norm(rng, n: int) -> BatchNormalization:
    bn = BatchNormalization(n, momentum=0.8, eps=1e-3)
    bn.params["gamma"][...] = rng.uniform(0.5, 1.5, n)
    bn.params["beta"][...] = rng.normal(0, 0.2, n)
    bn.load_state({"running_mean": rng.normal(0, 0.3, n), "running_var": rng.uniform(0.5, 2, n)})
    return bn


def mlp(rng, *middle) -> list[Layer]:
    return [Affine(weights(rng, 784, 32), bias(rng, 32)), *middle,
            Affine(weights(rng, 32, 10), bias(rng, 10))]


def conv(rng, filters: int, *after, stride: int = 1, pad: int = 0, kernel: int = 3) -> list:
    return [Convolution2D(weights(rng, filters, 1, kernel, kernel), bias(rng, filters),
                          stride=stride, pad=pad), *after]


def head(rng, features: int) -> list[Layer]:
    return [Flatten(), Affine(weights(rng, features, 10), bias(rng, 10))]


#: name: (layers from a Generator, output, images?, the ONNX operators the export must hold)
LAYER_CASES = {
    "affine-relu": (lambda r: mlp(r, ReLU()), "softmax", False, {"Gemm", "Relu"}),
    "leaky-relu": (lambda r: mlp(r, LeakyReLU(0.1)), "softmax", False, {"LeakyRelu"}),
    "sigmoid": (lambda r: mlp(r, Sigmoid()), "softmax", False, {"Sigmoid", "Softmax"}),
    "tanh": (lambda r: mlp(r, Tanh()), "softmax", False, {"Tanh"}),
    "identity": (lambda r: mlp(r, Identity()), "softmax", False, {"Identity"}),
    "dropout": (lambda r: mlp(r, ReLU(), Dropout(0.3)), "softmax", False, {"Dropout"}),
    "batchnorm-2d": (lambda r: mlp(r, batch_norm(r, 32), ReLU()), "softmax", False,
                     {"BatchNormalization"}),
    "sigmoid-output": (lambda r: mlp(r, Tanh()), "sigmoid", False, {"Sigmoid"}),
    "identity-output": (lambda r: mlp(r, ReLU()), "identity", False, {"Identity"}),
    "conv": (lambda r: conv(r, 6, ReLU(), *head(r, 6 * 14 * 14), stride=2, pad=1),
             "softmax", True, {"Conv", "Flatten"}),
    "maxpool": (lambda r: conv(r, 4, MaxPooling2D(3, 2, pad=1), *head(r, 4 * 13 * 13)),
                "softmax", True, {"MaxPool"}),
    "avgpool": (lambda r: conv(r, 4, AveragePooling2D(2, 2, pad=1), *head(r, 4 * 13 * 13),
                               kernel=5), "softmax", True, {"AveragePool"}),
    "batchnorm-4d": (lambda r: conv(r, 4, batch_norm(r, 4), ReLU(), MaxPooling2D(2),
                                    *head(r, 4 * 13 * 13)), "softmax", True,
                     {"BatchNormalization", "MaxPool"}),
    "affine-on-images": (lambda r: [Affine(weights(r, 784, 10), bias(r, 10))], "softmax", True,
                         {"Flatten", "Gemm"}),
}


# --- export, against ONNX Runtime --------------------------------------------------------


@needs_onnx
@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_each_layer_type_exports_runs_in_onnxruntime_and_imports_back(case, images, tmp_path):
    import onnx

    build, output, as_images, ops = LAYER_CASES[case]
    model = Sequential(build(np.random.default_rng(0)), OUTPUTS[output]())
    x = images[:200] if as_images else images[:200].reshape(200, -1)
    path = export_onnx(model, tmp_path / "m.onnx", {"dataset": "mnist",
                                                    "input_shape": list(x.shape[1:])})
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert ops <= {node.op_type for node in proto.graph.node}
    assert_matches_onnxruntime(model, path, x)
    back = import_onnx(path)
    if case == "affine-on-images":  # the Flatten that scratchnn's Affine does becomes a layer
        assert type(back.layers[0]) is Flatten
        back.layers = back.layers[1:]
    assert_same_network(model, back)
    np.testing.assert_array_equal(back.predict(x), model.predict(x))


def trained_convnet(images: np.ndarray, steps: int) -> SimpleConvNet:
    """The book's SimpleConvNet after a few Adam steps (labels: the digits' own order)."""
    net = SimpleConvNet(seed=0)
    labels = np.arange(len(images)) % 10
    opt = Adam(lr=1e-3)
    for step in range(steps):
        net.backprop(images[step * 20 % 400:][:100], labels[step * 20 % 400:][:100])
        opt.update(net.params, net.grads)
    return net


@needs_onnx
@pytest.mark.parametrize("name", ["SimpleConvNet", "DeepConvNet", "book"])
def test_whole_models_equal_onnxruntime_on_mnist(name, images, shared_data, tmp_path):
    if name == "SimpleConvNet":
        model, x = trained_convnet(images, 5), images[:250]
    elif name == "DeepConvNet":  # (slow on NumPy: 60 images)
        model, x = DeepConvNet(seed=0), images[:60]
    else:  # the book's pretrained 784-50-100-10 network, float64
        model = sample_network(data_dir=shared_data)
        x = images.reshape(len(images), -1).astype(np.float64)
    path = export_onnx(model, tmp_path / f"{name}.onnx", {"dataset": "mnist"})
    diffs = assert_matches_onnxruntime(model, path, x)
    # The command line's --check: the same differences, on part of the batch.
    part = onnx_format.compare_with_onnxruntime(model, path, x[:20])
    assert part.keys() == diffs.keys() and all(part[k] <= diffs[k] for k in part)
    back = import_onnx(path)
    assert_same_network(model, back)
    np.testing.assert_array_equal(back.predict_proba(x[:10]), model.predict_proba(x[:10]))


@needs_onnx
def test_the_book_network_in_float32_and_a_float64_convnet_exported_as_float32(
        images, shared_data, tmp_path):
    book = sample_network(data_dir=shared_data, dtype=np.float32)
    assert_matches_onnxruntime(book, export_onnx(book, tmp_path / "b.onnx"),
                               images.reshape(len(images), -1))
    # ONNX Runtime has no float64 Conv: dtype= writes the graph in float32.
    net = SimpleConvNet(seed=1, dtype=np.float64)
    path = export_onnx(net, tmp_path / "c.onnx", dtype=np.float32)
    got = ort_outputs(path, images[:100])
    np.testing.assert_allclose(got["logits"], net.predict(images[:100]), rtol=0, atol=TOL)
    back = import_onnx(path)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.params["W1"], net.params["W1"].astype(np.float32))


@needs_onnx
def test_batch_dimension_is_free_opset_and_metadata(images, tmp_path):
    import onnx

    net = SimpleConvNet(seed=0)
    path = export_onnx(net, tmp_path / "m.onnx", {"dataset": "mnist", "classes": list("0123456789"),
                                                  "test_accuracy": 0.5})
    proto = onnx.load(path)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    assert proto.ir_version == onnx_format.IR_VERSION
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["scratchnn_version"] == __version__
    assert props["dataset"] == "mnist"
    assert props["output"] == "softmax"
    assert json.loads(props["preprocessing"]) == {
        "input_shape": [1, 28, 28], "layout": "(N, C, H, W)", "dtype": "float32",
        "scaling": "pixel values / 255, in [0, 1]"}
    assert json.loads(props["classes"]) == list("0123456789")
    assert json.loads(props["metadata"])["test_accuracy"] == 0.5
    for n in (1, 7):
        assert ort_outputs(path, images[:n])["probabilities"].shape == (n, 10)
    back = import_onnx(path)
    assert back.meta["metadata"]["dataset"] == "mnist"
    assert back.meta["metadata"]["input_shape"] == [1, 28, 28]
    assert back.meta["opset"] == OPSET
    assert back.input_dim == (1, 28, 28)


@needs_onnx
def test_a_model_file_keeps_its_metadata_and_the_command_line_exports_it(
        images, tmp_path, capsys):
    net = SimpleConvNet(seed=0)
    save_model(net, tmp_path / "m.npz", {"dataset": "fashion-mnist", "input_shape": [1, 28, 28]})
    path = export_onnx(load_model(tmp_path / "m.npz"), tmp_path / "a.onnx")
    assert import_onnx(path).meta["metadata"]["dataset"] == "fashion-mnist"
    out = tmp_path / "sub" / "b.onnx"
    assert cli.main(["export", str(tmp_path / "m.npz"), str(out), "--check", "5"]) == 0
    printed = capsys.readouterr().out
    assert f"opset {OPSET}" in printed and "(batch, 1, 28, 28)" in printed
    assert "largest difference" in printed
    assert_matches_onnxruntime(net, out, images[:50])


@needs_onnx
def test_command_line_asks_for_the_input_shape_a_file_does_not_record(tmp_path, capsys):
    save_model(SimpleConvNet(seed=0), tmp_path / "m.npz")
    out = tmp_path / "m.onnx"
    assert cli.main(["export", str(tmp_path / "m.npz"), str(out)]) == 1
    assert "input_shape" in capsys.readouterr().err and not out.exists()
    assert cli.main(["export", str(tmp_path / "m.npz"), str(out), "--input-shape",
                     "1,28,28", "--dtype", "float64"]) == 0
    assert import_onnx(out).dtype == np.float64
    assert cli.main(["export", str(tmp_path / "m.npz"), str(out), "--input-shape", "1,x"]) == 2


class PReLU(Layer):
    """A layer ONNX export does not know."""

    def forward(self, x, train=False):
        return x


@needs_onnx
def test_export_refuses_what_it_cannot_write(tmp_path):
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="Sequential"):
        export_onnx([Affine(weights(rng, 4, 2))], tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"layer1 \(PReLU\).*Affine"):
        export_onnx(Sequential([Affine(weights(rng, 4, 2)), PReLU()]), tmp_path / "m.onnx")
    convnet = Sequential(conv(rng, 2, *head(rng, 2 * 26 * 26)))
    with pytest.raises(ValueError, match="input_shape"):
        export_onnx(convnet, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="expects 1352"):
        export_onnx(convnet, tmp_path / "m.onnx", input_shape=(1, 20, 20))
    with pytest.raises(ValueError, match="positive"):
        export_onnx(convnet, tmp_path / "m.onnx", input_shape=(1, 0, 28))
    with pytest.raises(TypeError, match="metadata"):
        export_onnx(convnet, tmp_path / "m.onnx", {"when": object()}, input_shape=(1, 28, 28))
    assert not list(tmp_path.iterdir())


# --- import of graphs written here --------------------------------------------------------


def graph_file(tmp_path, nodes, inits=(), shape=(None, 4), outputs=("y",), opset=OPSET,
               elem=None, name="g.onnx", out_rank=None):
    """A model of ``nodes`` saved without checks (it may be invalid on purpose); its outputs
    have ``out_rank`` free dimensions (default: the input's rank)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.FLOAT if elem is None else elem
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", elem, list(shape))],
        [helper.make_tensor_value_info(o, elem, [None] * (out_rank or len(shape)))
         for o in outputs],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in dict(inits).items()])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              ir_version=8)
    onnx.save(proto, tmp_path / name)
    return tmp_path / name


def node(op, inputs, output, name=None, **attrs):
    """A node named after its (first) output."""
    from onnx import helper

    outputs = [output] if isinstance(output, str) else output
    return helper.make_node(op, inputs, outputs, name=name or outputs[0], **attrs)


@needs_onnx
def test_matmul_add_gemm_attributes_and_reshape_import_like_onnxruntime(tmp_path):
    rng = np.random.default_rng(0)
    W1, b1 = weights(rng, 12, 6), bias(rng, 6)
    W2, b2 = weights(rng, 5, 6), bias(rng, 5)  # (out, in): transB
    W3 = weights(rng, 5, 3)
    nodes = [node("Reshape", ["x", "shape"], "flat"), node("MatMul", ["flat", "W1"], "m1"),
             node("Add", ["b1", "m1"], "a1"), node("Relu", ["a1"], "r1"),
             node("Gemm", ["r1", "W2", "b2"], "g2", transB=1, alpha=2.0, beta=0.5),
             node("MatMul", ["g2", "W3"], "y")]
    inits = {"shape": np.array([0, -1]), "W1": W1, "b1": b1, "W2": W2, "b2": b2[None, :],
             "W3": W3}
    path = graph_file(tmp_path, nodes, inits, shape=(None, 3, 4), out_rank=2)
    model = import_onnx(path)
    assert [type(la) for la in model.layers] == [Flatten, Affine, ReLU, Affine, Affine]
    assert type(model.loss_layer) is SoftmaxCrossEntropy  # plain scores: softmax by default
    np.testing.assert_array_equal(model.params["W2"], 2 * W2.T)
    np.testing.assert_array_equal(model.params["b3"], np.zeros(3, np.float32))
    x = rng.standard_normal((9, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x), ort_outputs(path, x)["y"], rtol=0, atol=TOL)
    assert model.input_dim == (3, 4)


@needs_onnx
def test_the_last_activation_becomes_the_output_layer(tmp_path):
    rng = np.random.default_rng(0)
    W = weights(rng, 4, 3)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    nodes = [node("Gemm", ["x", "W"], "s"), node("Sigmoid", ["s"], "y")]
    path = graph_file(tmp_path, nodes, {"W": W})
    model = import_onnx(path)
    assert type(model.loss_layer) is SigmoidBinaryCrossEntropy and len(model.layers) == 1
    np.testing.assert_allclose(model.predict_proba(x), ort_outputs(path, x)["y"], atol=TOL)
    as_hidden = import_onnx(path, output="identity")  # the Sigmoid stays a hidden layer
    assert [type(la) for la in as_hidden.layers] == [Affine, Sigmoid]
    np.testing.assert_allclose(as_hidden.predict(x), ort_outputs(path, x)["y"], atol=TOL)
    with pytest.raises(ValueError, match="output must be one of"):
        import_onnx(path, output="softplus")


#: name: (nodes (made when onnx is there), initializers, input shape, what the error says)
W44 = np.eye(4, dtype=np.float32)
BAD_GRAPHS = {
    "unknown operator": (lambda: [node("Exp", ["x"], "y", name="my_exp")], {}, (None, 4),
                         r"'my_exp' \(Exp\).*not supported.*Gemm, MatMul"),
    "softmax inside": (lambda: [node("Softmax", ["x"], "s", axis=1), node("Relu", ["s"], "y")], {},
                       (None, 4), r"Softmax is not supported except as the graph's last"),
    "grouped conv": (lambda: [node("Conv", ["x", "W"], "y", group=2)],
                     {"W": np.ones((2, 1, 3, 3), np.float32)}, (None, 2, 8, 8), "group 2"),
    "uneven strides": (lambda: [node("Conv", ["x", "W"], "y", strides=[2, 1])],
                       {"W": np.ones((2, 1, 3, 3), np.float32)}, (None, 1, 8, 8),
                       r"strides \[2, 1\]"),
    "dilated conv": (lambda: [node("Conv", ["x", "W"], "y", dilations=[2, 2])],
                     {"W": np.ones((2, 1, 3, 3), np.float32)}, (None, 1, 8, 8), "dilations"),
    "ceil mode": (lambda: [node("MaxPool", ["x"], "y", kernel_shape=[2, 2], ceil_mode=1)], {},
                  (None, 1, 7, 7), "ceil_mode 1"),
    "avgpool excluding pad": (lambda: [node("AveragePool", ["x"], "y", kernel_shape=[2, 2],
                                    pads=[1, 1, 1, 1])], {}, (None, 1, 8, 8),
                              "count_include_pad 0"),
    "transA": (lambda: [node("Gemm", ["x", "W"], "y", transA=1)], {"W": W44}, (4, 4), "transA"),
    "leaky alpha": (lambda: [node("LeakyRelu", ["x"], "y", alpha=2.0)], {}, (None, 4), "alpha"),
    "reshape not flat": (lambda: [node("Reshape", ["x", "s"], "y")], {"s": np.array([-1, 2])},
                         (None, 4), r"shape \[-1, 2\]"),
    "weight as input": (lambda: [node("MatMul", ["x", "x"], "y")], {}, (4, 4),
                        "must be an initializer"),
    "branches": (lambda: [node("Relu", ["x"], "a"), node("Tanh", ["x"], "b"),
                  node("Add", ["a", "b"], "y")], {}, (None, 4), "feeds 2 nodes"),
    "cycle": (lambda: [node("Relu", ["x", "c"], "a"), node("Tanh", ["a"], "b"),
               node("Sigmoid", ["b"], "c"), node("Identity", ["c"], "y")], {}, (None, 4),
              "cycle through node 'a'"),
    "missing initializer": (lambda: [node("Gemm", ["x", "W_missing"], "y")], {}, (None, 4),
                            r"'W_missing' of node 'y' \(Gemm\) is missing"),
    "training dropout": (lambda: [node("Dropout", ["x", "r", "t"], "y")],
                         {"r": np.float32(0.5), "t": np.bool_(True)}, (None, 4),
                         "training_mode"),
    "batchnorm training": (lambda: [node("BatchNormalization", ["x", "s", "s", "s", "s"],
                                 ["y", "mean", "var"], training_mode=1)],
                           {"s": np.ones(4, np.float32)}, (None, 4), "training_mode 1"),
    "3-D scores": (lambda: [node("Relu", ["x"], "y")], {}, (None, 2, 4), "the scores are 3-D"),
}


@needs_onnx
@pytest.mark.parametrize("case", sorted(BAD_GRAPHS))
def test_graphs_scratchnn_cannot_express_are_refused_naming_the_node(case, tmp_path):
    nodes, inits, shape, message = BAD_GRAPHS[case]
    path = graph_file(tmp_path, nodes(), inits, shape=shape)
    with pytest.raises(ValueError, match=message) as err:
        import_onnx(path)
    assert str(path) in str(err.value)


@needs_onnx
def test_other_inputs_outputs_types_and_opsets_are_refused(tmp_path):
    from onnx import TensorProto

    relu = [node("Relu", ["x"], "r"), node("Tanh", ["r"], "y")]
    cases = [(dict(elem=TensorProto.INT64), "element type 7"),
             (dict(opset=9), "opset 9; scratchnn reads opsets 11"),
             (dict(outputs=("y", "x")), r"outputs \['y', 'x'\] must be its last tensor 'y'"),
             (dict(outputs=("r",)), "outputs")]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            import_onnx(graph_file(tmp_path, relu, **kwargs))
    # The scores before the last node may be an output too (scratchnn's logits).
    assert len(import_onnx(graph_file(tmp_path, relu, outputs=("y", "r"))).layers) == 2
    two_inputs = graph_file(tmp_path, [node("Relu", ["x"], "y"), node("Tanh", ["x2"], "z")])
    with pytest.raises(ValueError, match="'x2' of node 'z'"):
        import_onnx(two_inputs)


@needs_onnx
def test_malformed_and_truncated_files_get_clear_errors(tmp_path):
    net = SimpleConvNet(seed=0)
    data = export_onnx(net, tmp_path / "m.onnx").read_bytes()
    for cut in (len(data) // 2, 11):
        (tmp_path / "cut.onnx").write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            import_onnx(tmp_path / "cut.onnx")
    (tmp_path / "text.onnx").write_text("not an onnx model at all\n" * 20)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        import_onnx(tmp_path / "text.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        import_onnx(tmp_path / "empty.onnx")
    with pytest.raises(ValueError, match="a folder"):
        import_onnx(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        import_onnx(tmp_path / "nothing.onnx")


def test_without_onnx_the_message_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "scratchnn\[onnx\]"'):
        export_onnx(SimpleConvNet(seed=0), "never-written.onnx")
    with pytest.raises(ImportError, match=r'pip install "scratchnn\[onnx\]"'):
        import_onnx("never-read.onnx")


# --- graphs from PyTorch -------------------------------------------------------------------


def torch_models(torch):
    """A PyTorch MLP (batch norm, dropout, leaky ReLU; logits) and a CNN (softmax output)."""
    nn = torch.nn
    torch.manual_seed(0)
    mlp_ = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.BatchNorm1d(64), nn.ReLU(),
                         nn.Dropout(0.2), nn.Linear(64, 32), nn.LeakyReLU(0.05),
                         nn.Linear(32, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, stride=2), nn.Tanh(), nn.AvgPool2d(2),
                        nn.Flatten(), nn.Linear(16 * 3 * 3, 10), nn.Softmax(dim=1))
    return {"mlp": mlp_, "cnn": cnn}


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@needs_onnx
def test_pytorch_exports_import_and_predict_like_pytorch(kind, dynamo, images, tmp_path):
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")
    torch.set_num_threads(1)
    net = torch_models(torch)[kind]
    x = torch.from_numpy(images[:100])
    net.train()
    with torch.no_grad():  # moves batch norm's running statistics away from 0 and 1
        net(x)
    net.eval()
    path = tmp_path / f"{kind}.onnx"
    options = ({"dynamic_shapes": ({0: torch.export.Dim("batch")},)} if dynamo
               else {"dynamic_axes": {"x": {0: "batch"}}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x[:2],), str(path), input_names=["x"], dynamo=dynamo,
                          **options)
    model = import_onnx(path)
    with torch.no_grad():
        expected = net(x).numpy()
    got = model.predict_proba(images[:100]) if kind == "cnn" else model.predict(images[:100])
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL)
    assert type(model.loss_layer) is SoftmaxCrossEntropy
    if kind == "mlp":
        assert LeakyReLU in [type(la) for la in model.layers]
