"""The hypernas and hypernas-h variants on a tiny proxy and a tiny CIFAR-10 fixture."""
import io
import pickle
import shutil
import tarfile
import warnings

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

import hypernas_pyg.datasets.raw_files as raw_files
from hypernas_pyg import HyperNASPredictor
from hypernas_pyg.cli import build_parser, main
from hypernas_pyg.data import arch_to_data
from hypernas_pyg.nn import HyperNAS, PreferenceWeightedLoss
from hypernas_pyg.spaces import NASBench201Space
from hypernas_pyg.spaces import NASBench201Network
from hypernas_pyg.training import (AuxiliaryConfig, AuxiliaryTask, fit_frozen_regressor,
                                   fold_standardisation, held_out_archs)

SPACE = NASBench201Space()
TINY_NET = dict(C=4, N=1)
TINY = dict(image_size=8, batch_size=16, heldout_images=None, val_archs=4)
FAST = dict(epochs=3, hidden_channels=16, num_layers=1, batch_size=16, progress=False,
            proxy=TINY_NET, aux=TINY, space=SPACE)
ARCH = ("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
        "+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")


def _write_cifar_tarball(path, per_batch=40, n_test=20, seed=0):
    """A 200-image cifar-10-python.tar.gz (official format) whose class tints one channel."""
    rng = np.random.default_rng(seed)

    def pixels(labels):
        y = np.asarray(labels)
        x = rng.integers(0, 64, size=(len(y), 3, 32, 32))
        x[np.arange(len(y)), y % 3] += 19 * y[:, None, None]
        return x.clip(0, 255).astype(np.uint8).reshape(len(y), -1)

    members = {}
    for i in range(1, 6):
        y = [int(v) for v in rng.integers(0, 10, per_batch)]
        members[f"cifar-10-batches-py/data_batch_{i}"] = {b"labels": y, b"data": pixels(y)}
    y = [i % 10 for i in range(n_test)]
    members["cifar-10-batches-py/test_batch"] = {b"labels": y, b"data": pixels(y)}
    with tarfile.open(path, "w:gz") as tf:
        for name, batch in members.items():
            payload = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))


@pytest.fixture(autouse=True, scope="module")
def no_mirror():
    """Keep the real CIFAR-10 zip of the mirror out of these tests (it takes ~15 s to decode).

    Module-scoped, so that it is in force before the module-scoped fixtures fit anything.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(raw_files.MIRROR_ENV, raising=False)
        yield


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    (root / "raw").mkdir()
    _write_cifar_tarball(root / "raw" / "cifar-10-python.tar.gz")
    return str(root)


def _toy(n=24, seed=0):
    archs = SPACE.sample(n, np.random.default_rng(seed))
    y = [80 + 2 * SPACE.parse(a).count("nor_conv_3x3") - SPACE.parse(a).count("none")
         for a in archs]
    return archs, np.array(y, dtype=float)


@pytest.fixture(scope="module")
def fitted(cifar_root):
    """One fitted predictor per hypernetwork variant, shared by the read-only tests."""
    archs, y = _toy()
    return {v: HyperNASPredictor(variant=v, aux_root=cifar_root, **FAST).fit(archs, y)
            for v in ("hypernas", "hypernas-h")}


# ------------------------------------------------------------------- fit / predict
@pytest.mark.parametrize("variant", ["hypernas", "hypernas-h"])
def test_fit_reports_hypernet_validation(fitted, variant):
    model = fitted[variant]
    archs, _ = _toy()
    assert 0.0 <= model.hyper_val_acc_ <= 1.0
    assert len(model.hyper_val_archs_) == 4 and not set(model.hyper_val_archs_) & set(archs)
    pred = model.predict(archs)
    assert pred.shape == (24,) and np.isfinite(pred).all()
    if variant == "hypernas":
        assert set(model.loss_weights_) == {"predictor", "hypernet"}
        assert all(w > 0 for w in model.loss_weights_.values())
        assert isinstance(model.loss_, PreferenceWeightedLoss) and model.loss_.q == 1.5
    else:
        assert model.loss_weights_ is None and model.loss_ is None


def test_hypernas_h_trains_encoder_with_the_hypernet_loss_only(fitted):
    """hypernas-h's encoder sees no regression loss: that it moved at all is the CE's doing."""
    model = fitted["hypernas-h"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model.seed)
        init = model._build_model(model.space_)
    trained = model.model_
    for name, p in init.encoder.named_parameters():
        assert not torch.equal(p, dict(trained.encoder.named_parameters())[name]), name
    # ... and the regressor was fitted afterwards on the frozen embeddings.
    assert not torch.equal(init.regressor.lins[0].weight, trained.regressor.lins[0].weight)


def test_same_seed_same_result(cifar_root):
    archs, y = _toy(16)
    kw = dict(FAST, epochs=1, variant="hypernas", aux_root=cifar_root)
    a = HyperNASPredictor(**kw, seed=1).fit(archs, y)
    b = HyperNASPredictor(**kw, seed=1).fit(archs, y)
    np.testing.assert_array_equal(a.predict(archs), b.predict(archs))
    assert a.hyper_val_acc_ == b.hyper_val_acc_


def test_ce_gradient_reaches_the_shared_encoder(cifar_root):
    """The estimator's auxiliary loss, backpropagated, reaches every encoder parameter."""
    predictor = HyperNASPredictor(variant="hypernas-h", aux_root=cifar_root, **FAST)
    torch.manual_seed(0)
    model = predictor._build_model(SPACE)
    aux = AuxiliaryTask(cifar_root, AuxiliaryConfig(**TINY))
    archs, _ = _toy(4)
    batch = Batch.from_data_list([arch_to_data(a, SPACE) for a in archs])
    out = model.encode(batch)
    loss = aux.loss(model, batch, out.node, torch.Generator().manual_seed(0))
    loss.backward()
    for name, p in model.encoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert model.hypernet.shared.stem.conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.regressor.parameters())


@pytest.mark.parametrize("variant", ["hypernas", "hypernas-h"])
def test_unlabelled_aux_archs_change_the_hypernet_training(cifar_root, variant, monkeypatch):
    """With aux_archs the cross-entropy runs on batches of sampled, unlabelled archs."""
    archs, y = _toy(16)
    seen = []
    original = AuxiliaryTask.loss

    def spy(self, model, batch, node, generator):
        seen.append(list(batch.arch))
        return original(self, model, batch, node, generator)
    monkeypatch.setattr(AuxiliaryTask, "loss", spy)
    kw = dict(FAST, epochs=2, variant=variant, aux_root=cifar_root)
    pooled = HyperNASPredictor(**kw, aux_archs=40).fit(archs, y)
    used = {a for batch in seen for a in batch}
    assert used and not used <= set(archs)  # not (only) the labelled archs
    assert len(used) <= 40 and all(len(b) <= FAST["batch_size"] for b in seen)
    assert pooled.get_params()["aux_archs"] == 40
    seen.clear()
    plain = HyperNASPredictor(**kw).fit(archs, y)
    assert {a for batch in seen for a in batch} <= set(archs)
    assert not np.array_equal(pooled.predict(archs), plain.predict(archs))


@pytest.mark.parametrize("variant", ["hypernas", "hypernas-h"])
def test_rank_weight_reaches_the_regression_loss(cifar_root, variant, monkeypatch):
    import hypernas_pyg.training.multi_task as joint
    import hypernas_pyg.training.regression as frozen
    weights = []
    original = joint.regression_loss

    def spy(pred, target, rank_weight=0.0):
        weights.append(rank_weight)
        return original(pred, target, rank_weight)
    monkeypatch.setattr(joint, "regression_loss", spy)
    monkeypatch.setattr(frozen, "regression_loss", spy)
    archs, y = _toy(16)
    HyperNASPredictor(**dict(FAST, epochs=2), variant=variant, aux_root=cifar_root,
                      rank_weight=0.5).fit(archs, y)
    assert weights and set(weights) == {0.5}


def test_ensemble_of_hypernas_keeps_the_first_members_statistics(cifar_root, tmp_path):
    archs, y = _toy(16)
    kw = dict(FAST, epochs=2, variant="hypernas", aux_root=cifar_root)
    single = HyperNASPredictor(**kw).fit(archs, y)
    ens = HyperNASPredictor(**kw, ensemble=2).fit(archs, y)
    assert len(ens.members_) == 2 and all(m.hypernet is not None for m in ens.members_)
    assert ens.hyper_val_acc_ == single.hyper_val_acc_
    assert ens.loss_weights_ == single.loss_weights_
    assert not np.array_equal(ens.predict(archs), single.predict(archs))
    ens.save(str(tmp_path / "e.pt"))
    loaded = HyperNASPredictor.load(str(tmp_path / "e.pt"))
    np.testing.assert_array_equal(loaded.predict(archs), ens.predict(archs))


def test_predict_needs_no_aux_data_and_ignores_the_branch(cifar_root, tmp_path):
    archs, y = _toy()
    root = tmp_path / "cifar"
    shutil.copytree(cifar_root, root)
    model = HyperNASPredictor(variant="hypernas", aux_root=str(root), **FAST).fit(archs, y)
    before = model.predict(archs)
    shutil.rmtree(root)
    np.testing.assert_array_equal(model.predict(archs), before)
    model.model_.hypernet = None  # branch off: the same predictions
    np.testing.assert_array_equal(model.predict(archs), before)


# --------------------------------------------------------------------- weights
@pytest.mark.parametrize("variant", ["hypernas", "hypernas-h"])
def test_generate_weights_loads_into_the_real_network(fitted, variant):
    model = fitted[variant]
    state = model.generate_weights(ARCH)
    net = NASBench201Network.from_arch(ARCH, C=4, N=1)
    net.load_state_dict(state)  # strict: exactly the real network's keys
    hypernet = model.model_.hypernet
    for name in net.op_weight_names().values():
        assert not torch.equal(state[name], torch.zeros_like(state[name]))
    torch.testing.assert_close(state["stem.conv.weight"], hypernet.shared.stem.conv.weight)
    torch.testing.assert_close(state["classifier.bias"], hypernet.shared.classifier.bias)
    # In training mode (batch statistics) the real network computes the branch's logits.
    images = torch.randn(6, 3, 8, 8)
    data = arch_to_data(ARCH, SPACE)
    with torch.no_grad():
        node = model.model_.encode(Batch.from_data_list([data])).node
        expected = hypernet(ARCH, node, data.cell_pos, images, op=data.op)
        torch.testing.assert_close(net.train()(images), expected)


def test_generate_weights_needs_a_hypernetwork():
    archs, y = _toy()
    model = HyperNASPredictor(variant="np", epochs=1, hidden_channels=8, progress=False,
                              space=SPACE)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.generate_weights(ARCH)
    model.fit(archs, y)
    with pytest.raises(ValueError, match="variant 'np' has no hypernetwork"):
        model.generate_weights(ARCH)


# ----------------------------------------------------------------- persistence
@pytest.mark.parametrize("variant", ["hypernas", "hypernas-h"])
def test_save_load_round_trip(fitted, tmp_path, variant):
    model = fitted[variant]
    path = tmp_path / "model.pt"
    model.save(str(path))
    loaded = HyperNASPredictor.load(str(path))
    assert loaded.get_params() == model.get_params()
    assert loaded.proxy == TINY_NET and loaded.aux == TINY and loaded.q_ == model.q_
    assert loaded.space_ == model.space_ and loaded.network_size_ == {"C": 4, "N": 1}
    archs, _ = _toy()
    np.testing.assert_array_equal(loaded.predict(archs), model.predict(archs))
    assert loaded.hyper_val_acc_ == model.hyper_val_acc_
    assert loaded.hyper_val_archs_ == model.hyper_val_archs_
    assert loaded.loss_weights_ == model.loss_weights_
    if model.loss_ is not None:
        torch.testing.assert_close(loaded.loss_.u, model.loss_.u)
    torch.testing.assert_close(loaded.generate_weights(ARCH), model.generate_weights(ARCH))


# --------------------------------------------------------------- configuration
def test_q_2_trains_the_liebel_koerner_loss(cifar_root):
    archs, y = _toy(16)
    model = HyperNASPredictor(variant="hypernas", q=2, aux_root=cifar_root,
                              **dict(FAST, epochs=1)).fit(archs, y)
    loss = model.loss_
    assert loss.q == 2.0 and not torch.equal(loss.u, torch.ones(2))  # trained, from init 1
    losses = torch.tensor([0.7, 2.3])
    u = loss.u.detach()
    expected = (losses / (2 * u ** 2) + torch.log1p(u ** 2)).sum()
    torch.testing.assert_close(loss(losses).detach(), expected)
    w = model.loss_weights_
    torch.testing.assert_close(torch.tensor([w["predictor"], w["hypernet"]]), 1 / (2 * u ** 2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(variant="np", q=1.5), "leave q=None"),
    (dict(variant="hypernas-h", q=2.0), "leave q=None"),
    (dict(variant="hypernas", q=0.0), "q must be a finite positive number"),
    (dict(variant="hypernas", q=float("nan")), "q must be a finite positive number"),
    (dict(variant="hypernas-p", proxy="small"), "leave proxy=None"),
    (dict(variant="np", aux_root="/tmp"), "leave aux_root=None"),
    (dict(variant="hypernas-p", aux_archs=100), "leave aux_archs=None"),
    (dict(variant="hypernas", aux_archs=1), "aux_archs must be None or an integer"),
    (dict(variant="hypernas", aux_archs=True), "aux_archs must be None or an integer"),
    (dict(variant="hypernas", proxy="huge", space=SPACE), "Unknown network size 'huge'"),
    (dict(variant="hypernas", proxy={"C": 4, "depth": 2}, space=SPACE),
     r"Unknown network size key\(s\) \['depth'\]"),
    (dict(variant="hypernas", aux={"image_size": 10}), "multiple of 4"),
    (dict(variant="hypernas", aux="huge"), "Unknown aux 'huge'"),
    (dict(variant="hypernas", proxy={"N": 3}, space=NASBench201Space(cells_per_stage=2)),
     "network size N=3 exceeds"),
])
def test_bad_hypernet_arguments(kwargs, match):
    model = HyperNASPredictor(**kwargs)  # the constructor only stores
    with pytest.raises(ValueError, match=match):
        model.validate_params()
    archs, y = _toy(4)
    with pytest.raises(ValueError, match=match):
        model.fit(archs, y)


def test_defaults_of_the_new_arguments(monkeypatch, tmp_path):
    model = HyperNASPredictor(variant="hypernas")
    assert model.q is None and model.proxy is None and model.aux is None  # stored as given
    monkeypatch.setenv(raw_files.ROOT_ENV, str(tmp_path))
    assert model.aux_root_ == str(tmp_path / "cifar10")
    params = HyperNASPredictor(variant="np").get_params()
    assert params["q"] is None and params["proxy"] is None and params["aux_root"] is None


def test_bad_training_data(cifar_root):
    archs, y = _toy(8)
    model = HyperNASPredictor(variant="hypernas", aux_root=cifar_root, **FAST)
    small = [arch_to_data(a, NASBench201Space(cells_per_stage=2)) for a in archs]
    with pytest.raises(ValueError, match="has 8 cells, but the predictor's space"):
        model.fit(small, y)
    big_batch = dict(FAST, aux=dict(TINY, batch_size=1000))
    with pytest.raises(ValueError, match="exceeds the 180 training images"):
        HyperNASPredictor(variant="hypernas", aux_root=cifar_root, **big_batch).fit(archs, y)


def test_held_out_archs_avoid_the_training_set():
    archs, _ = _toy(50)
    out = held_out_archs(SPACE, archs, 30, seed=3)
    assert len(set(out)) == 30 and not set(out) & set(archs)
    assert out == held_out_archs(SPACE, archs, 30, seed=3)


def test_cli_passes_the_new_arguments(capsys):
    args = build_parser().parse_args(["evaluate", "--train-size", "10", "--variant", "hypernas",
                                      "--q", "2", "--proxy", "full", "--aux-root", "/data/c"])
    from hypernas_pyg.cli import _model_kwargs
    kwargs = _model_kwargs(args, 0)
    assert kwargs["q"] == 2.0 and kwargs["aux_root"] == "/data/c"
    assert kwargs["proxy"] == "full" and kwargs["aux"] == "full"
    args = build_parser().parse_args(["evaluate", "--train-size", "10", "--rank-weight", "0.5",
                                      "--ensemble", "2"])
    kwargs = _model_kwargs(args, 0)
    assert kwargs["rank_weight"] == 0.5 and kwargs["ensemble"] == 2
    assert main(["evaluate", "--train-size", "10", "--variant", "np", "--q", "2"]) == 2
    assert "leave q=None" in capsys.readouterr().err


def test_validation_batches_mix_the_classes(cifar_root):
    """Held-out images stored class by class are shuffled before the BatchNorm batches."""
    aux = AuxiliaryTask(cifar_root, AuxiliaryConfig(**TINY))
    order = torch.argsort(aux.heldout.labels, stable=True)
    aux.heldout.images, aux.heldout.labels = aux.heldout.images[order], aux.heldout.labels[order]
    images, labels = aux._validation_batches()
    assert sorted(labels.tolist()) == sorted(aux.heldout.labels.tolist())
    assert not torch.equal(labels, aux.heldout.labels)
    assert len(set(labels[:len(labels) // 2].tolist())) > 2


def test_fold_standardisation_is_exact():
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3)
    mean, inv_std = torch.randn(5), torch.tensor([2.0, 0.5, 0.0, 1.0, 3.0])
    x = torch.randn(7, 5)
    expected = lin((x - mean) * inv_std)
    fold_standardisation(lin, mean, inv_std)
    torch.testing.assert_close(lin(x), expected)
    assert torch.all(lin.weight[:, 2] == 0)  # a constant dimension is ignored


def _frozen_fit(model, n=12):
    archs, y = _toy(n)
    data = []
    for arch, target in zip(archs, y):
        d = arch_to_data(arch, SPACE)
        d.target = torch.tensor([(target - y.mean()) / y.std()], dtype=torch.float)
        data.append(d)
    fit_frozen_regressor(model, data, epochs=2, batch_size=8, lr=1e-3, weight_decay=0.0,
                         generator=torch.Generator().manual_seed(0),
                         device=torch.device("cpu"), progress=False)
    return archs


def test_frozen_regressor_warns_when_the_encoder_has_collapsed():
    """An encoder whose embedding is the same for every architecture (what weight decay
    leaves of an encoder that the hypernetwork task ignores) cannot rank: say so."""
    torch.manual_seed(0)
    model = HyperNAS(SPACE.num_node_types, 16, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a working encoder fits without the warning
        _frozen_fit(model)
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.zero_()
    with pytest.warns(RuntimeWarning, match="every one of the 16 embedding dimensions is constant"):
        archs = _frozen_fit(model)
    batch = Batch.from_data_list([arch_to_data(a, SPACE) for a in archs])
    with torch.no_grad():
        pred = model.regressor(model.encode(batch).graph).view(-1)
    assert torch.unique(pred).numel() == 1  # the collapse the warning announces


# ------------------------------------------------------------ another space
@pytest.mark.parametrize("variant", ["np", "hypernas-p", "hypernas-h", "hypernas"])
def test_every_variant_runs_on_nasbench101(cifar_root, tmp_path, variant):
    """The same estimator and hypernetwork branch, with NAS-Bench-101's networks."""
    from hypernas_pyg.spaces import NASBench101Space
    space = NASBench101Space(max_vertices=5)  # enumerates in a fraction of a second
    archs = space.sample(16, np.random.default_rng(0))
    y = np.array([80.0 + space.parse(a).ops.count("conv3x3-bn-relu") for a in archs])
    hyper = variant in ("hypernas", "hypernas-h")
    kw = dict(epochs=2, hidden_channels=16, num_layers=1, batch_size=8, progress=False,
              space=space, variant=variant)
    if hyper:
        kw.update(aux=TINY, aux_root=cifar_root, proxy={"stem_channels": 8})
    model = HyperNASPredictor(**kw).fit(archs, y)
    pred = model.predict(archs)
    assert pred.shape == (16,) and np.isfinite(pred).all()
    model.save(str(tmp_path / "nb101.pt"))
    loaded = HyperNASPredictor.load(str(tmp_path / "nb101.pt"))
    assert loaded.space_ == space
    np.testing.assert_array_equal(loaded.predict(archs), pred)
    if hyper:
        assert 0.0 <= model.hyper_val_acc_ <= 1.0
        net = space.build_network(archs[0], **model.network_size_)
        net.load_state_dict(model.generate_weights(archs[0]))  # strict: the real network's keys
        assert model.network_size_ == {"stem_channels": 8, "num_stacks": 3, "cells_per_stack": 1}


@pytest.mark.parametrize("variant", ["np", "hypernas-p", "hypernas-h", "hypernas"])
def test_every_variant_runs_on_darts(cifar_root, tmp_path, variant):
    """DARTS: depthwise 3x3 / 5x5 and pointwise kernels from their op nodes, a 5-cell proxy
    for the 20-cell encoder graphs."""
    from hypernas_pyg.spaces import DARTSSpace
    space = DARTSSpace()
    archs = space.sample(12, np.random.default_rng(0))
    y = np.array([96.0 + 0.1 * a.count("sep_conv") for a in archs])
    hyper = variant in ("hypernas", "hypernas-h")
    kw = dict(epochs=2, hidden_channels=16, num_layers=1, batch_size=6, progress=False,
              space=space, variant=variant)
    if hyper:
        kw.update(aux=TINY, aux_root=cifar_root, proxy={"C": 4, "layers": 5})
    model = HyperNASPredictor(**kw).fit(archs, y)
    pred = model.predict(archs)
    assert pred.shape == (12,) and np.isfinite(pred).all()
    model.save(str(tmp_path / "darts.pt"))
    np.testing.assert_array_equal(HyperNASPredictor.load(str(tmp_path / "darts.pt"))
                                  .predict(archs), pred)
    if hyper:
        net = space.build_network(archs[0], **model.network_size_)
        net.load_state_dict(model.generate_weights(archs[0]))  # strict: the real network's keys
        slots = space.kernel_slots(archs[0], net)
        convs = sum(isinstance(m, torch.nn.Conv2d) for c in net.cells for m in c.ops.modules())
        assert len(slots) == convs > 0
        assert {s.shape[2:] for s in slots} <= {(3, 3), (5, 5), (1, 1)}
        assert all(space.cell_sequence(archs[0])[s.cell].ops[s.node] in space.ops
                   for s in slots)


def test_darts_proxy_cells_map_onto_the_encoder_cells():
    from hypernas_pyg.spaces import DARTSSpace
    space = DARTSSpace()
    assert space.proxy_cell_positions(5) == {1: 6, 3: 13, 0: 0, 2: 7, 4: 14}
    assert space.proxy_cell_positions(20) == {i: i for i in range(20)}
    with pytest.raises(ValueError, match="layers must be in 3..8"):
        DARTSSpace(layers=8).network_size({"layers": 20})
    with pytest.raises(ValueError, match="C must be even"):
        space.network_size({"C": 5})
