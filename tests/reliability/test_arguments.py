"""Bad arguments fail at once, with a ValueError naming the argument and its value."""
import os

import pytest
import torch

import hypernas_pyg.predictor as predictor_mod
from hypernas_pyg.datasets import CIFAR10Images, NASBench101, NASBench201
from hypernas_pyg.predictor import HyperNASPredictor


@pytest.mark.parametrize("kwargs, message", [
    (dict(seed=None), "seed must be a non-negative integer, got None"),
    (dict(seed=1.5), "seed must be a non-negative integer, got 1.5"),
    (dict(seed=-1), "seed must be a non-negative integer, got -1"),
    (dict(lr="0.01"), "lr must be a finite positive number, got '0.01'"),
    (dict(lr=float("nan")), "lr must be a finite positive number, got nan"),
    (dict(epochs=0), "epochs must be a positive integer, got 0"),
    (dict(device="tpu"), "device 'tpu' is not a torch device"),
    (dict(device=3.5), "device 3.5 is not a torch device"),
])
def test_constructor_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        HyperNASPredictor(space="nasbench201", **kwargs).validate_params()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1", torch.device("cuda", 0)])
def test_cuda_without_cuda_is_named(device, nb201_archs):
    p = HyperNASPredictor(space="nasbench201", device=device, epochs=1)
    with pytest.raises(ValueError, match=r"device .*cuda.*CUDA is not available"):
        p.fit(*nb201_archs)  # fit validates first
    assert "members_" not in p.__dict__


@pytest.fixture(scope="module")
def fitted():
    from hypernas_pyg.spaces import NASBench201Space
    archs = list(NASBench201Space().all_archs())[:6]
    return HyperNASPredictor(space="nasbench201", epochs=1, hidden_channels=8,
                             progress=False).fit(archs, [1.0, 2, 3, 4, 5, 6]), archs


@pytest.mark.parametrize("batch_size", [0, -3, 1.5, True, "64", None])
def test_predict_batch_size_is_checked_before_any_encoding(fitted, batch_size, monkeypatch):
    p, archs = fitted

    def refuse(*args, **kwargs):
        raise AssertionError("architectures were encoded before batch_size was checked")
    monkeypatch.setattr(predictor_mod, "as_graphs", refuse)
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got "
                                         f"{batch_size!r}".replace("'", "'")):
        p.predict(archs, batch_size=batch_size)


def test_predict_inputs(fitted):
    p, archs = fitted
    with pytest.raises(ValueError, match="single string .*wrap it in a list"):
        p.predict(archs[0])
    with pytest.raises(ValueError, match="got None"):
        p.predict(None)
    with pytest.raises(ValueError, match="no architectures given"):
        p.predict([])
    assert p.predict(archs[:2]).shape == (2,)


@pytest.mark.parametrize("cls", [NASBench201, NASBench101, CIFAR10Images])
@pytest.mark.parametrize("root", [None, "", "   ", 3])
def test_dataset_root_must_be_a_path(cls, root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=rf"root must be a directory path .*got {root!r}"):
        cls(root, log=False)
    assert os.listdir(tmp_path) == []  # no '???' folder, nothing written
