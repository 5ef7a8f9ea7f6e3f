"""Adding a layer is writing one class: a layer defined here, and nowhere in the package,
trains through the Trainer, saves and loads through a model file, and passes the gradient
check, without any other file knowing about it."""

from __future__ import annotations

import numpy as np

import scratchnn as sn
from scratchnn.data import make_spirals
from scratchnn.init import initialize


class PReLU(sn.Layer):
    """y = x where x > 0, else a * x, with a slope a learnt per feature (He et al., 2015).

    Backward: dx = dout * (1 or a);  da = sum_N dout * (0 or x).
    """

    def __init__(self, features: int, slope: float = 0.25, dtype: str = "float32") -> None:
        super().__init__()
        self.params = {"a": np.full(features, slope, dtype=dtype)}
        self.grads = {"a": np.zeros(features, dtype=dtype)}

    def config(self) -> dict:
        a = self.params["a"]
        return {"features": len(a), "dtype": str(a.dtype)}

    def forward(self, x: np.ndarray, train: bool = False) -> np.ndarray:
        self.x = x
        return np.where(x > 0, x, self.params["a"] * x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        negative = self.x <= 0
        np.sum(dout * np.where(negative, self.x, 0), axis=0, out=self.grads["a"])
        return dout * np.where(negative, self.params["a"], 1)


def _net(dtype=np.float32, seed=0) -> sn.Sequential:
    rng = np.random.default_rng(seed)
    return sn.Sequential([
        sn.Affine(initialize("he", (2, 16), rng=rng, dtype=dtype)),
        PReLU(16, dtype=np.dtype(dtype).name),
        sn.Affine(initialize("he", (16, 3), rng=rng, dtype=dtype)),
    ])


def test_a_new_layer_trains_through_the_trainer():
    x, t = make_spirals(n_per_class=100, n_classes=3, seed=0)
    net = _net()
    before = net.params["a1"].copy()
    history = sn.Trainer(net, sn.Adam(lr=0.01), epochs=30, batch_size=30, seed=0,
                         progress=False).fit(x, t)
    assert history.records[-1]["loss"] < 0.6 * history.records[0]["loss"]
    assert not np.array_equal(net.params["a1"], before)  # its own parameter learnt too
    assert history.records[-1]["train_acc"] > 0.7


def test_a_new_layer_saves_and_loads_through_a_model_file(tmp_path):
    net = _net(seed=1)
    net.params["a1"][...] = np.linspace(0.1, 0.4, 16)
    path = sn.save_model(net, tmp_path / "prelu.npz")
    loaded = sn.load_model(path)
    assert isinstance(loaded.layers[1], PReLU)
    np.testing.assert_array_equal(loaded.params["a1"], net.params["a1"])
    x = np.random.default_rng(2).standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), net.predict(x))


def test_a_new_layer_passes_the_gradient_check():
    net = _net(np.float64, seed=3)
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal((6, 2)), rng.integers(0, 3, 6)
    x[np.abs(x) < 1e-2] = 0.5
    errors = sn.gradient_check(net, x, t)
    assert set(errors) == {"W1", "b1", "a1", "W2", "b2"}
    assert max(errors.values()) < 1e-6, errors


def test_two_layer_classes_of_one_name_each_load_as_themselves(tmp_path):
    class PReLU(sn.Layer):  # another learner's PReLU: the identity, without parameters
        def forward(self, x, train=False):
            return x

        def backward(self, dout):
            return dout

    rng = np.random.default_rng(5)
    other = sn.Sequential([sn.Affine(initialize("he", (2, 3), rng=rng)), PReLU()])
    mine = _net(seed=6)
    for net in (other, mine):
        loaded = sn.load_model(sn.save_model(net, tmp_path / "net.npz"))
        assert [type(la) for la in loaded.layers] == [type(la) for la in net.layers]
