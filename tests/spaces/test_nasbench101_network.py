"""Tests for the NAS-Bench-101 network and the network side of the NAS-Bench-101 space."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call

from hypernas_pyg.spaces.nasbench101 import NASBench101Space
from hypernas_pyg.spaces.nasbench101.network import (ConvBNReLU, NASBench101Cell,
                                                     NASBench101Network,
                                                     compute_vertex_channels)
from hypernas_pyg.spaces.nasbench101.network_side import (NASBench101NetworkSide,
                                                          vertex_widths)
from hypernas_pyg.spaces.search_space import KernelSlot

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"

# The Inception-like cell of the NASBench colab (2,694,282 trainable parameters).
INCEPTION = ([[0, 1, 1, 1, 0, 1, 0],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 1, 0, 0],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0, 0, 0]],
             ["input", C1, C3, C3, C3, MP, "output"])
# input -> output edge, a maxpool vertex, a vertex (1) not feeding the output, and
# three feeders (2, 3, 4: uneven split, so 2 -> 3 truncates by one channel).
RESIDUAL = ([[0, 1, 1, 0, 0, 1],
             [0, 0, 0, 1, 0, 0],
             [0, 0, 0, 1, 0, 1],
             [0, 0, 0, 0, 1, 1],
             [0, 0, 0, 0, 0, 1],
             [0, 0, 0, 0, 0, 0]],
            ["input", MP, C3, C1, C3, "output"])
# a chain with the input -> output edge: one feeder, projection on vertex 1 only.
CHAIN = ([[0, 1, 0, 0, 1],
          [0, 0, 1, 0, 0],
          [0, 0, 0, 1, 0],
          [0, 0, 0, 0, 1],
          [0, 0, 0, 0, 0]],
         ["input", C3, MP, C1, "output"])
# only input -> output: the whole cell is one projection.
IN_OUT = ([[0, 1], [0, 0]], ["input", "output"])
# maxpool-only cell: no op kernels, projections only.
POOLS = ([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
         ["input", MP, MP, "output"])
CELLS = {"inception": INCEPTION, "residual": RESIDUAL, "chain": CHAIN, "in_out": IN_OUT,
         "pools": POOLS}

NASLIB_OPS = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")


SPACE_CLS = NASBench101Space
SIZES = {"small": "small", "full": "full", "two_by_two": {"stem_channels": 8, "num_stacks": 2,
                                                          "cells_per_stack": 2}}


@pytest.fixture(scope="module")
def space() -> NASBench101NetworkSide:
    return SPACE_CLS()


def naslib_key_to_cell(key: str) -> tuple[np.ndarray, list[str]]:
    """``"(0, 1, ..., 0, 4, 3, 1)"``: 49 adjacency entries row-major, 7 op indices."""
    idx = [int(tok) for tok in key.strip("()").split(",")]
    assert len(idx) == 56, key
    return np.array(idx[:49]).reshape(7, 7), [NASLIB_OPS[i] for i in idx[49:]]


def _num_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _batch_statistics_only(net: nn.Module) -> None:
    """As the hypernetwork branch runs its skeletons: no running statistics."""
    for module in net.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.track_running_stats = False
            module.running_mean = module.running_var = module.num_batches_tracked = None


@pytest.fixture(scope="module")
def zc_table() -> dict:
    mirror = os.environ.get("HYPERNAS_MIRROR")
    if not mirror:
        pytest.skip("HYPERNAS_MIRROR is not set: point it at the data mirror "
                    "(e.g. ../shared/data) to check against nasbench101/zc_nasbench101.json")
    path = Path(mirror) / "nasbench101" / "zc_nasbench101.json"
    if not path.is_file():
        pytest.skip(f"{path} does not exist")
    with open(path) as f:
        return json.load(f)["nasbench101"]["cifar10"]


# ------------------------------------------------------------------ the network
def test_inception_cell_has_the_official_parameter_count() -> None:
    torch.manual_seed(0)
    net = NASBench101Network(*INCEPTION)
    assert _num_params(net) == 2_694_282
    # The count includes both BatchNorm affine parameters (TF's gamma and beta).
    bn_bias = sum(m.bias.numel() for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert _num_params(net) - bn_bias == 2_688_778
    out = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_params_match_naslib_table_for_all_500_cells(zc_table: dict) -> None:
    assert len(zc_table) == 500
    with torch.device("meta"):
        for key, row in zc_table.items():
            net = NASBench101Network(*naslib_key_to_cell(key))
            assert round(_num_params(net) / 1e6, 6) == pytest.approx(row["params"], abs=1e-9), key


def test_flops_match_naslib_table(zc_table: dict) -> None:
    counting = pytest.importorskip("hypernas_pyg.spaces.counting")
    keys = sorted(zc_table)[::25]  # 20 cells; all 500 match too (about 40 s here)
    for key in keys:
        with torch.device("meta"):
            net = NASBench101Network(*naslib_key_to_cell(key))
        flops = counting.count_flops(net, (1, 3, 32, 32))
        assert round(flops / 1e6, 6) == pytest.approx(zc_table[key]["flops"], abs=1e-9), key


def test_compute_vertex_channels_known_values() -> None:
    # Inception: 4 feeders share 128; vertex 3 takes the width of vertex 4 it feeds.
    assert compute_vertex_channels(64, 128, np.array(INCEPTION[0])) == \
        [64, 32, 32, 32, 32, 32, 128]
    # 3 feeders share 128 as 43, 43, 42 (remainder to the first); vertex 1 feeds
    # vertex 3 and takes its width.
    assert compute_vertex_channels(16, 128, np.array(RESIDUAL[0])) == \
        [16, 43, 43, 43, 42, 128]
    assert compute_vertex_channels(8, 16, np.array(CHAIN[0])) == [8, 16, 16, 16, 16]
    assert compute_vertex_channels(8, 16, np.array(IN_OUT[0])) == [8, 16]


def test_cell_matches_a_hand_written_reference() -> None:
    torch.manual_seed(0)
    matrix, ops = RESIDUAL
    cell = NASBench101Cell(np.array(matrix), ops, 6, 10).eval()
    assert cell.vertex_channels == (6, 3, 4, 3, 3, 10)
    x = torch.randn(2, 6, 5, 5)
    v, p = cell.vertices, cell.projections
    h1 = v["1"](p["1"](x))
    h2 = v["2"](p["2"](x))
    h3 = v["3"](h1 + h2[:, :3])  # truncation by one channel
    h4 = v["4"](h3)
    expected = torch.cat([h2, h3, h4], dim=1) + cell.out_projection(x)
    torch.testing.assert_close(cell(x), expected)
    assert isinstance(v["1"], nn.MaxPool2d) and v["1"].stride == 1 and v["1"].padding == 1
    assert set(p) == {"1", "2"}


def test_network_layout_and_resolution() -> None:
    net = NASBench101Network(*INCEPTION, stem_channels=8)
    assert net.downsample_positions == (3, 7)
    assert [isinstance(c, nn.MaxPool2d) for c in net.cells] == \
        [False, False, False, True, False, False, False, True, False, False, False]
    widths = [c.out_channels for c in net.cells if isinstance(c, NASBench101Cell)]
    assert widths == [8, 8, 8, 16, 16, 16, 32, 32, 32]
    assert net.cells[4].in_channels == 8 and net.cells[4].vertex_channels[0] == 8
    assert net.classifier.in_features == 32
    x = torch.randn(1, 3, 15, 15)  # odd sizes: 'same' max-pools give 8 then 4
    feats = net.stem(x)
    sizes = []
    for cell in net.cells:
        feats = cell(feats)
        sizes.append(feats.shape[-1])
    assert sizes == [15, 15, 15, 8, 8, 8, 8, 4, 4, 4, 4]
    smaller = NASBench101Network(*INCEPTION, stem_channels=4, num_stacks=2, cells_per_stack=1)
    assert smaller.downsample_positions == (1,) and len(smaller.cells) == 3
    assert smaller(torch.randn(2, 3, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_every_cell_runs(name: str) -> None:
    torch.manual_seed(0)
    net = NASBench101Network(*CELLS[name], stem_channels=8, cells_per_stack=1,
                             num_classes=5, in_channels=1)
    assert net(torch.randn(3, 1, 16, 16)).shape == (3, 5)


def test_raw_matrices_are_pruned() -> None:
    # Vertex 2 is a dead end, vertex 3 is unreachable from the input.
    matrix = [[0, 1, 1, 0, 0],
              [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0],
              [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0]]
    ops = ["input", C3, C1, MP, "output"]
    net = NASBench101Network(matrix, ops, stem_channels=8)
    assert net.kept == (0, 1, 4)
    assert net.matrix == ((0, 1, 0), (0, 0, 1), (0, 0, 0))
    assert net.ops == ("input", C3, "output")
    ref = NASBench101Network(net.matrix, net.ops, stem_channels=8)
    assert _num_params(net) == _num_params(ref)


@pytest.mark.parametrize("matrix, ops, match", [
    ([[0, 1], [0, 0], [0, 0]], ["input", "output"], "square"),
    ([[0, 2], [0, 0]], ["input", "output"], "0 or 1"),
    ([[0, 1], [1, 0]], ["input", "output"], "upper-triangular"),
    ([[0, 1], [0, 0]], ["input", C3, "output"], "ops"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"], "conv5x5"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [C3, C3, "output"], "input"),
    ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", C3, "output"], "disconnected"),
])
def test_bad_cells_raise(matrix, ops, match) -> None:
    with pytest.raises(ValueError, match=match):
        NASBench101Network(matrix, ops)


@pytest.mark.parametrize("kwargs, match", [
    ({"stem_channels": 0}, "stem_channels"), ({"num_stacks": 1.5}, "num_stacks"),
    ({"cells_per_stack": True}, "cells_per_stack"), ({"num_classes": -1}, "num_classes"),
    ({"stem_channels": 3}, "out_channels=3"),  # 4 feeders cannot share 3 channels
])
def test_bad_sizes_raise(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        NASBench101Network(*INCEPTION, **kwargs)


def test_cell_needs_a_pruned_matrix() -> None:
    with pytest.raises(ValueError, match="pruned"):
        NASBench101Cell(np.array([[0, 1, 1], [0, 0, 0], [0, 0, 0]]), ["input", C3, "output"],
                        4, 4)


def test_kernel_names() -> None:
    net = NASBench101Network(*RESIDUAL, stem_channels=8, cells_per_stack=1)
    names = net.kernel_names()
    params = dict(net.named_parameters())
    assert set(names.values()) <= set(params)
    # per cell: op kernels of vertices 2, 3, 4 (1 is a maxpool), projections of 1, 2, output
    assert [key for key in names if key[0] == 0] == [
        (0, 1, "projection"), (0, 2, "op"), (0, 2, "projection"), (0, 3, "op"), (0, 4, "op"),
        (0, 5, "projection")]
    assert {key[0] for key in names} == {0, 2, 4}
    # position 2: 8 -> 16 channels, feeders 6, 5, 5 and vertex 1 as wide as vertex 3
    assert params[names[(2, 5, "projection")]].shape == (16, 8, 1, 1)
    assert params[names[(2, 1, "projection")]].shape == (5, 8, 1, 1)
    assert params[names[(4, 2, "op")]].shape == (11, 11, 3, 3)
    conv = {name for name, p in params.items() if p.dim() == 4}
    assert conv - set(names.values()) == {"stem.conv.weight"}


# ------------------------------------------------------------- the network side
def _functional_params(space, arch, net, shared):
    slots = space.kernel_slots(arch, net)
    names = space.shared_names(arch, net)
    shared_params = dict(shared.named_parameters())
    kernels = {slot.name: (0.1 * torch.randn(slot.shape)).requires_grad_() for slot in slots}
    params = dict(kernels)
    for name, key in names.items():
        params[name] = shared_params[key]
    return slots, names, kernels, params


def test_presets_and_sizes(space) -> None:
    assert space.network_presets["small"] == {"stem_channels": 16, "num_stacks": 3,
                                              "cells_per_stack": 1}
    assert space.network_presets["full"] == {"stem_channels": 128, "num_stacks": 3,
                                             "cells_per_stack": 3}
    assert space.network_size(None) == dict(space.network_presets["small"])
    assert space.max_feeders == 4
    assert SPACE_CLS(max_vertices=5, max_edges=9).max_feeders == 3
    for bad, match in [({"num_stacks": 4}, "num_stacks=4"),
                       ({"cells_per_stack": 4}, "cells_per_stack=4"),
                       ({"stem_channels": 3}, "stem_channels=3"),
                       ({"cells_per_stack": 0}, "cells_per_stack"), ({"width": 3}, "width")]:
        with pytest.raises(ValueError, match=match):
            space.network_size(bad)


def test_build_network_parses_every_form(space) -> None:
    arch = space.validate(INCEPTION)
    net = space.build_network(arch, **dict(space.network_presets["full"]))
    assert _num_params(net) == 2_694_282
    small = space.build_network(INCEPTION)  # the small preset, a raw pair
    assert small.cells_per_stack == 1 and small.stem_channels == 16
    with pytest.raises(ValueError):
        space.build_network("in-c3-out:010.000.000")  # disconnected


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("name", sorted(CELLS))
def test_functional_call_with_generated_kernels(space, name: str, size) -> None:
    torch.manual_seed(0)
    arch = space.validate(CELLS[name])
    sz = space.network_size(SIZES[size])
    with torch.device("meta"):
        net = space.build_network(arch, num_classes=3, **sz)
    _batch_statistics_only(net)
    shared = space.shared_network(num_classes=3, **sz)
    slots, names, kernels, params = _functional_params(space, arch, net, shared)
    net_params = dict(net.named_parameters())
    # every parameter is either generated or shared, never both, with its shape
    assert set(kernels).isdisjoint(names)
    assert set(kernels) | set(names) == set(net_params)
    for pname, value in params.items():
        assert tuple(value.shape) == tuple(net_params[pname].shape), pname
    assert "stem.conv.weight" in names and not any(s.name.startswith("stem") for s in slots)
    # the slot shapes are among the heads
    assert {s.shape for s in slots} <= set(space.kernel_shapes(**sz))
    out = functional_call(net, params, (torch.randn(2, 3, 16, 16),))
    assert out.shape == (2, 3)
    out.square().sum().backward()
    for slot in slots:
        grad = kernels[slot.name].grad
        assert grad is not None and grad.abs().sum() > 0, slot.name
    shared_params = dict(shared.named_parameters())
    assert shared_params["classifier.weight"].grad is not None


@pytest.mark.parametrize("name", sorted(CELLS))
def test_slots_come_from_real_nodes(space, name: str) -> None:
    arch = space.validate(CELLS[name])
    cells = space.cell_sequence(arch)
    pruned = space.parse(arch)
    for size, encoder_positions in [("small", {0, 4, 8}),
                                    ("full", {0, 1, 2, 4, 5, 6, 8, 9, 10})]:
        with torch.device("meta"):
            net = space.build_network(arch, **space.network_size(size))
        slots = space.kernel_slots(arch, net)
        assert all(isinstance(s, KernelSlot) for s in slots)
        assert {s.cell for s in slots} == encoder_positions  # every test cell has kernels
        for slot in slots:
            cell = cells[slot.cell]
            assert cell.kind == "normal"
            op = cell.ops[slot.node]
            if ".vertices." in slot.name:
                assert op in (C3, C1)
                assert slot.shape[-1] == (3 if op == C3 else 1)
            elif ".out_projection." in slot.name:
                assert op == "output" and slot.node == len(cell.ops) - 1
            else:
                assert ".projections." in slot.name and op in (C3, C1, MP)
                assert pruned.matrix[0][slot.node] == 1
        # the default slot order: by cell position
        assert [s.cell for s in slots] == sorted(s.cell for s in slots)


def test_kernel_slots_rejects_another_network(space) -> None:
    arch = space.validate(INCEPTION)
    with torch.device("meta"):
        other = space.build_network(RESIDUAL)
    with pytest.raises(ValueError, match="another architecture"):
        space.kernel_slots(arch, other)
    with pytest.raises(ValueError, match="NASBench101Network"):
        space.kernel_slots(arch, nn.Linear(2, 2))
    with pytest.raises(ValueError, match="another architecture"):
        space.shared_names(arch, other)


def _cover_cells(num_feeders: int):
    """Stars ``input -> v_i -> output`` (``i <= k``) plus ``input -> output``, one per op:
    together they have every kernel shape."""
    for k in range(1, num_feeders + 1):
        n = k + 2
        matrix = np.zeros((n, n), dtype=int)
        matrix[0, 1:] = 1
        matrix[1:-1, -1] = 1
        for op in (C3, C1):
            yield matrix, ["input"] + [op] * k + ["output"]


@pytest.mark.parametrize("size", sorted(SIZES))
def test_kernel_shapes_are_exact(space, size) -> None:
    sz = space.network_size(SIZES[size])
    shapes = space.kernel_shapes(**sz)
    assert shapes == sorted(set(shapes))
    seen = set()
    for cell in _cover_cells(space.max_feeders):
        arch = space.validate(cell)
        with torch.device("meta"):
            net = space.build_network(arch, **sz)
        seen |= {s.shape for s in space.kernel_slots(arch, net)}
    assert seen == set(shapes)


def test_kernel_shapes_cover_random_cells(space) -> None:
    """Random raw 7-vertex matrices (pruned, <= 9 edges): every slot shape is a head."""
    rng = np.random.default_rng(0)
    shapes = {size: set(space.kernel_shapes(**space.network_size(size)))
              for size in ("small", "full")}
    checked = 0
    while checked < 60:
        matrix = np.triu(rng.integers(0, 2, size=(7, 7)), k=1)
        ops = ["input"] + [str(op) for op in rng.choice([C3, C1, MP], size=5)] + ["output"]
        try:
            arch = space.validate((matrix, ops))
        except ValueError:
            continue
        checked += 1
        for size in ("small", "full"):
            with torch.device("meta"):
                net = space.build_network(arch, **space.network_size(size))
            assert {s.shape for s in space.kernel_slots(arch, net)} <= shapes[size], arch


def test_vertex_widths() -> None:
    assert vertex_widths(16, 4) == [4, 5, 6, 8, 16]
    assert vertex_widths(128, 4) == [32, 42, 43, 64, 128]
    assert vertex_widths(12, 3) == [4, 6, 12]


def test_shared_network(space) -> None:
    torch.manual_seed(0)
    shared = space.shared_network(num_classes=7, in_channels=1)
    assert len(shared.norms) == 153
    assert shared.classifier.weight.shape == (7, 64)
    assert shared.stem.conv.weight.shape == (16, 1, 3, 3)
    assert isinstance(shared.stem, ConvBNReLU)
    for bn in shared.norms.values():
        assert torch.equal(bn.weight, torch.ones_like(bn.weight))
        assert torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert len(space.shared_network(**space.network_size("full")).norms) == 459
    # no cell convolution is shared
    assert [n for n, p in shared.named_parameters() if p.dim() == 4] == ["stem.conv.weight"]
