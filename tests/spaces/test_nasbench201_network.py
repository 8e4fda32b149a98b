"""Tests for the NAS-Bench-201 target network and the FLOP counter."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.func import functional_call

from hypernas_pyg.spaces import NASBench201Space
from hypernas_pyg.spaces.nasbench201 import NB201_EDGES, NB201_OPS, REDUCTION_OPS
from hypernas_pyg.spaces.counting import count_flops
from hypernas_pyg.spaces.nasbench201.network import OP_BUILDERS, NASBench201Network

BEST = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
        "+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
MIXED = ("nor_conv_3x3", "avg_pool_3x3", "nor_conv_1x1", "skip_connect", "none", "nor_conv_3x3")

# NASLib's NB201 encoding: op index -> name, and its edge order.
NASLIB_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
NASLIB_EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
# dataset -> (num_classes, input resolution)
ZC_DATASETS = {"cifar10": (10, 32), "cifar100": (100, 32), "ImageNet16-120": (120, 16)}


def naslib_key_to_ops(key: str) -> tuple[str, ...]:
    """``"(0, 2, 3, 2, 3, 1)"`` (NASLib edge order) -> ops in arch-string order."""
    idx = [int(tok) for tok in key.strip("()").split(",")]
    assert len(idx) == 6, key
    by_edge = {edge: NASLIB_OPS[i] for edge, i in zip(NASLIB_EDGES, idx)}
    return tuple(by_edge[edge] for edge in NB201_EDGES)


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """Runs this module's tiny forward passes on one thread.

    Intra-op threads buy nothing at these sizes, and on a busy 2-core machine
    OpenMP spin-waiting makes a forward pass up to 100x slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def zc_table() -> dict:
    mirror = os.environ.get("HYPERNAS_MIRROR")
    if not mirror:
        pytest.skip("HYPERNAS_MIRROR is not set: point it at the data mirror "
                    "(e.g. ../shared/data) to check against nasbench201/zc_nasbench201.json")
    path = Path(mirror) / "nasbench201" / "zc_nasbench201.json"
    if not path.is_file():
        pytest.fail(f"HYPERNAS_MIRROR={mirror} but {path} does not exist")
    with open(path) as f:
        return json.load(f)


def _costs(ops: tuple[str, ...], num_classes: int, resolution: int) -> tuple[int, int]:
    net = NASBench201Network(ops, num_classes=num_classes)
    params = sum(p.numel() for p in net.parameters())
    return params, count_flops(net, (1, 3, resolution, resolution))


@pytest.fixture(scope="module")
def cifar10_costs(zc_table: dict) -> dict[str, tuple[int, int]]:
    """(params, flops) of every listed CIFAR-10 arch.

    Params and FLOPs depend on the op multiset only (every edge of a cell has
    the same channels and resolution; checked separately by
    ``test_costs_invariant_to_edge_permutation``), so one real network is
    built per multiset: 160 networks for the 724 archs.
    """
    by_multiset: dict[tuple[str, ...], tuple[int, int]] = {}
    costs = {}
    for key, entry in zc_table["cifar10"].items():
        assert entry["arch"] == key  # the "arch" field repeats the key
        ops = naslib_key_to_ops(key)
        multiset = tuple(sorted(ops))
        if multiset not in by_multiset:
            by_multiset[multiset] = _costs(ops, 10, 32)
        costs[key] = by_multiset[multiset]
    return costs


def test_naslib_key_conversion() -> None:
    # edges (0->1),(0->2),(0->3),(1->2),(1->3),(2->3) hold skip, none, 3x3, 1x1, pool, skip
    ops = naslib_key_to_ops("(0, 1, 2, 3, 4, 0)")
    assert ops == ("skip_connect", "none", "nor_conv_1x1", "nor_conv_3x3",
                   "avg_pool_3x3", "skip_connect")


def test_params_match_benchmark_for_every_cifar10_arch(zc_table: dict, cifar10_costs: dict) -> None:
    table = zc_table["cifar10"]
    assert len(table) == 724
    mismatches = {key: (cifar10_costs[key][0] / 1e6, entry["params"]["score"])
                  for key, entry in table.items()
                  if round(cifar10_costs[key][0] / 1e6, 6) != entry["params"]["score"]}
    assert not mismatches


def test_flops_match_benchmark_for_every_cifar10_arch(zc_table: dict, cifar10_costs: dict) -> None:
    table = zc_table["cifar10"]
    rel_err = {}
    for key, entry in table.items():
        score = entry["flops"]["score"]
        rel_err[key] = abs(cifar10_costs[key][1] / 1e6 - score) / score
    assert max(rel_err.values()) < 1e-9  # exact to the table's 6 decimals
    values = {flops for _, flops in cifar10_costs.values()}
    assert len(values) > 50  # the check is not vacuous


@pytest.mark.parametrize("dataset", ["cifar100", "ImageNet16-120"])
def test_costs_match_benchmark_on_other_datasets(zc_table: dict, dataset: str) -> None:
    rng = random.Random(0)
    num_classes, resolution = ZC_DATASETS[dataset]
    keys = rng.sample(sorted(zc_table[dataset]), 8)
    for key in keys:
        params, flops = _costs(naslib_key_to_ops(key), num_classes, resolution)
        entry = zc_table[dataset][key]
        assert round(params / 1e6, 6) == entry["params"]["score"], key
        assert round(flops / 1e6, 6) == entry["flops"]["score"], key


def test_costs_invariant_to_edge_permutation() -> None:
    rng = random.Random(1)
    other = ("nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3", "none", "skip_connect")
    for ops in (MIXED, other):
        shuffled = list(ops)
        rng.shuffle(shuffled)
        assert _costs(tuple(shuffled), 10, 32) == _costs(ops, 10, 32)


def test_param_convention_counts_bn_affine_and_classifier() -> None:
    net = NASBench201Network(("none",) * 6)  # only stem, reductions, head
    total = sum(p.numel() for p in net.parameters())
    stem = 3 * 16 * 9 + 2 * 16
    reductions = sum(c * 2 * c * 9 + 2 * 2 * c + 4 * c * c * 9 + 2 * 2 * c + c * 2 * c
                     for c in (16, 32))
    head = 2 * 64 + 64 * 10 + 10
    assert total == stem + reductions + head


def test_count_flops_known_value_and_side_effects() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=True), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AvgPool2d(2, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 5))
    model.train()
    conv = 8 * 8 * 3 * 4 * 9 + 8 * 8 * 4
    bn = 2 * 4 * 8 * 8
    relu = 4 * 8 * 8
    pool = 4 * 4 * 4 * 4
    global_pool = 4 * (4 + 1) * (4 + 1)  # window 4x4 counted as (4+1)^2
    linear = 4 * 5
    expected = conv + bn + relu + pool + global_pool + linear
    assert count_flops(model, (1, 3, 8, 8)) == expected
    assert count_flops(model, (3, 3, 8, 8)) == expected  # per sample
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks for m in model.modules())
    with pytest.raises(ValueError, match="input_size"):
        count_flops(model, (0, 3, 8, 8))


def test_from_arch_matches_constructor() -> None:
    net = NASBench201Network.from_arch(BEST, C=8, N=1)
    assert net.ops == NASBench201Space().parse(BEST)
    assert net.arch_str == BEST
    assert (net.C, net.N) == (8, 1)


@pytest.mark.parametrize("C,N,num_classes,in_channels,size", [
    (4, 1, 10, 3, 32), (8, 2, 100, 1, 16), (16, 5, 10, 3, 32), (6, 3, 7, 3, 24)])
def test_output_shape(C: int, N: int, num_classes: int, in_channels: int, size: int) -> None:
    torch.manual_seed(0)
    net = NASBench201Network(MIXED, C=C, N=N, num_classes=num_classes, in_channels=in_channels)
    assert len(net.cells) == 3 * N + 2
    out = net(torch.randn(2, in_channels, size, size))
    assert out.shape == (2, num_classes)
    assert torch.isfinite(out).all()


def test_cell_computes_node_sums() -> None:
    torch.manual_seed(0)
    ops = ("skip_connect", "avg_pool_3x3", "skip_connect", "none", "skip_connect", "skip_connect")
    cell = NASBench201Network(ops, C=4, N=1).cells[0]
    x = torch.randn(2, 4, 8, 8)
    pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    n1 = x
    n2 = pool(x) + n1
    expected = torch.zeros_like(x) + n1 + n2
    torch.testing.assert_close(cell(x), expected)


@pytest.mark.parametrize("bad_op", ["conv_3x3", "max_pool_3x3", "", "None"])
def test_unknown_op_raises(bad_op: str) -> None:
    ops = list(MIXED)
    ops[2] = bad_op
    with pytest.raises(ValueError, match=f"Unknown op '{bad_op}'.*nor_conv_3x3"):
        NASBench201Network(ops)


@pytest.mark.parametrize("kwargs,match", [
    ({"ops": MIXED[:5]}, "exactly 6"),
    ({"ops": BEST}, "from_arch"),
    ({"ops": MIXED, "C": 0}, "C must be a positive integer"),
    ({"ops": MIXED, "N": 2.5}, "N must be a positive integer"),
    ({"ops": MIXED, "num_classes": True}, "num_classes"),
    ({"ops": MIXED, "in_channels": -1}, "in_channels"),
])
def test_bad_arguments_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        NASBench201Network(**kwargs)


def test_from_arch_rejects_bad_string() -> None:
    with pytest.raises(ValueError, match="Unknown op"):
        NASBench201Network.from_arch(BEST.replace("nor_conv_1x1", "sep_conv_3x3"))


def test_op_builders_cover_space_ops() -> None:
    assert set(OP_BUILDERS) == set(NB201_OPS)


def test_op_weight_names_follow_cell_sequence() -> None:
    space = NASBench201Space(cells_per_stage=5)
    net = NASBench201Network.from_arch(BEST)
    names = net.op_weight_names()
    params = dict(net.named_parameters())
    cells = space.cell_sequence(BEST)
    assert net.reduction_positions == (5, 11)
    assert [p for p, cell in enumerate(cells) if cell.kind == "reduction"] == [5, 11]

    # every conv-carrying op node of the cell sequence has exactly one entry
    expected_keys = {(p, node) for p, cell in enumerate(cells)
                     for node, op in enumerate(cell.ops)
                     if op.startswith("nor_conv") or op in REDUCTION_OPS}
    assert set(names) == expected_keys
    assert len(names) == 15 * 5 + 6  # BEST has 5 conv edges
    assert list(names) == sorted(names)

    widths = [16] * 6 + [32] * 6 + [64] * 5  # width entering each position
    for (pos, node), name in names.items():
        assert name in params
        op = cells[pos].ops[node]
        c = widths[pos]
        if op == "nor_conv_3x3":
            shape = (c, c, 3, 3)
        elif op == "nor_conv_1x1":
            shape = (c, c, 1, 1)
        elif op == "res_conv3x3_s2":
            shape = (2 * c, c, 3, 3)
        elif op == "res_conv3x3":
            shape = (2 * c, 2 * c, 3, 3)
        else:
            assert op == "res_shortcut"
            shape = (2 * c, c, 1, 1)
        assert params[name].shape == shape, (pos, node, op)

    # normal op node k is edge k - 1: the last edge of BEST (2->3) is nor_conv_1x1
    assert names[(0, 6)] == "cells.0.edges.5.conv.weight"
    assert params[names[(12, 6)]].shape == (64, 64, 1, 1)
    assert (0, 4) not in names  # skip_connect on edge (0->3)


def test_op_weight_names_empty_without_conv_ops() -> None:
    net = NASBench201Network(("skip_connect", "avg_pool_3x3", "none") * 2, C=4, N=2)
    assert set(net.op_weight_names()) == {(2, 1), (2, 2), (2, 3), (5, 1), (5, 2), (5, 3)}


def test_functional_call_with_external_weights() -> None:
    torch.manual_seed(0)
    net = NASBench201Network.from_arch(BEST, C=4, N=1).eval()
    x = torch.randn(3, 3, 16, 16)
    names = net.op_weight_names()
    own = {**dict(net.named_parameters()), **dict(net.named_buffers())}

    # the full own state reproduces the module's output
    torch.testing.assert_close(functional_call(net, own, (x,)), net(x))

    # a perturbed external weight changes the output
    name = names[(0, 6)]
    perturbed = {name: own[name] + 0.5 * torch.randn_like(own[name])}
    assert not torch.allclose(functional_call(net, perturbed, (x,)), net(x))

    # the module itself is untouched by the functional call
    torch.testing.assert_close(net.get_parameter(name), own[name])


def test_gradients_flow_to_generated_weights() -> None:
    torch.manual_seed(0)
    net = NASBench201Network(MIXED, C=4, N=1, num_classes=5).train()
    params = dict(net.named_parameters())
    names = net.op_weight_names()
    # a toy "hypernetwork": one learnable scale per op node
    scales = torch.ones(len(names), requires_grad=True)
    generated = {name: scales[i] * params[name].detach() for i, name in enumerate(names.values())}
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 5, (4,))
    loss = nn.functional.cross_entropy(functional_call(net, generated, (x,)), y)
    loss.backward()
    assert scales.grad is not None
    # every generated conv lies on an input-output path of MIXED, so every scale gets a gradient
    assert (scales.grad.abs() > 0).all()
    # the module's own conv weights were replaced, so they receive no gradient
    assert all(params[name].grad is None for name in names.values())


def test_direct_external_tensor_receives_gradient() -> None:
    torch.manual_seed(0)
    net = NASBench201Network(MIXED, C=4, N=1)
    name = net.op_weight_names()[(4, 1)]  # reduction block, conv_a
    weight = torch.randn_like(net.get_parameter(name)).requires_grad_()
    out = functional_call(net, {name: weight}, (torch.randn(2, 3, 16, 16),))
    out.square().sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0
