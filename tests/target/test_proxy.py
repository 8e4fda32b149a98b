import pytest

from hypernas_pyg.spaces import NASBench201Space
from hypernas_pyg.target import PROXY_PRESETS, ProxyConfig, proxy_resolver


def test_defaults_and_full_preset():
    small = ProxyConfig()
    assert (small.C, small.N, small.image_size, small.batch_size, small.aux_steps) == \
        (8, 1, 16, 64, 1)
    full = ProxyConfig.full()
    assert (full.C, full.N, full.image_size, full.batch_size) == (16, 5, 32, 256)
    assert PROXY_PRESETS == {"small": small, "full": full}


def test_dict_round_trip_and_resolver():
    config = ProxyConfig(C=4, N=2, image_size=8, train_images=500)
    assert ProxyConfig.from_dict(config.to_dict()) == config
    assert proxy_resolver(config.to_dict()) == config
    assert proxy_resolver(config) is config
    assert proxy_resolver(None) == ProxyConfig() and proxy_resolver("full") == ProxyConfig.full()


@pytest.mark.parametrize("kwargs, match", [
    (dict(C=0), "ProxyConfig.C must be a positive integer"),
    (dict(N=1.5), "ProxyConfig.N must be a positive integer"),
    (dict(aux_steps=True), "ProxyConfig.aux_steps must be a positive integer"),
    (dict(image_size=18), "multiple of 4 in 4..32"),
    (dict(image_size=36), "multiple of 4 in 4..32"),
    (dict(train_images=0), "train_images must be a positive integer or None"),
])
def test_invalid_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ProxyConfig(**kwargs)


def test_unknown_names():
    with pytest.raises(ValueError, match=r"Unknown ProxyConfig field\(s\) \['width'\]"):
        ProxyConfig.from_dict({"width": 3})
    with pytest.raises(ValueError, match="presets: small, full"):
        proxy_resolver("tiny")


def test_proxy_cell_positions():
    space = NASBench201Space(cells_per_stage=5)
    pos = space.proxy_cell_positions(1)
    assert len(pos) == 17
    assert [p for p in pos if p >= 0] == [0, 1, 2, 3, 4]
    assert [i for i, p in enumerate(pos) if p >= 0] == [0, 5, 6, 11, 12]
    assert space.proxy_cell_positions(5) == tuple(range(17))
    two = space.proxy_cell_positions(2)
    assert [i for i, p in enumerate(two) if p >= 0] == [0, 1, 5, 6, 7, 11, 12, 13]
    with pytest.raises(ValueError, match="cells_per_stage must be an int in 1..5"):
        space.proxy_cell_positions(6)
