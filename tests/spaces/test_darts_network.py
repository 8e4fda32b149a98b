"""DARTSNetwork: DARTS's CIFAR-10 evaluation network and NAS-Bench-301's, by parameter count."""
import json
import os

import pytest
import torch

from hypernas_pyg.spaces.darts import DARTSNetwork, DARTSSpace
from hypernas_pyg.spaces.darts.network import count_parameters

V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
      "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
      "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
      "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
      "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
SPACE = DARTSSpace()


def test_darts_v2_has_the_published_parameter_count():
    """DARTS reports 3.3 M for DARTS-V2 at C=36, 20 cells: exactly 3,349,342 without the
    auxiliary head (the figure DARTS's training script prints), 3,825,768 with it."""
    net = DARTSNetwork(SPACE.parse(V2), channels=36, layers=20, auxiliary=True)
    assert count_parameters(net) == 3_349_342
    assert count_parameters(net, auxiliary=True) == 3_825_768


def test_forward_shapes_drop_path_and_auxiliary_head():
    torch.manual_seed(0)
    net = DARTSNetwork(SPACE.parse(SPACE.sample(1, __import__("numpy").random.default_rng(0))[0]),
                       channels=8, layers=5, auxiliary=True, drop_path_prob=0.3)
    x = torch.randn(4, 3, 32, 32)
    net.train()
    logits, aux = net(x)
    assert logits.shape == aux.shape == (4, 10)
    net.eval()
    a, b = net(x), net(x)
    assert torch.equal(a, b) and a.shape == (4, 10)  # no drop path, no head in eval
    assert [i for i, c in enumerate(net.cells) if c.reduction] == [1, 3]
    with pytest.raises(ValueError, match="genotype must be a DARTSGenotype"):
        DARTSNetwork(V2)


def test_nasbench301_params_count_this_network_at_32_channels_8_cells():
    """NASLib's NB301 ``params`` are the network with C=32, 8 cells, no affine BN inside the
    ops, no auxiliary head: equal for every one of the 725 genotypes."""
    mirror = os.environ.get("HYPERNAS_MIRROR")
    path = os.path.join(mirror or "", "darts_nb301", "zc_nasbench301.json")
    if not mirror or not os.path.exists(path):
        pytest.skip("HYPERNAS_MIRROR does not hold darts_nb301/zc_nasbench301.json")
    with open(path) as f:
        table = json.load(f)["cifar10"]
    items = list(table.items())
    for key, row in items[::29]:  # 25 of the 725 (all 725 take about a minute)
        net = DARTSNetwork(SPACE.parse(key), channels=32, layers=8, affine_ops=False)
        assert count_parameters(net) == round(row["params"]["score"] * 1e6), key
