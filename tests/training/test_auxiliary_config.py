"""The auxiliary-data settings of the hypernetwork task (image size, batches, subsets)."""
import pytest

from hypernas_pyg.training import AUX_PRESETS, AuxiliaryConfig, aux_resolver


def test_defaults_and_full_preset():
    small = AuxiliaryConfig()
    assert (small.dataset, small.image_size, small.batch_size, small.aux_steps) == \
        ("cifar10", 16, 64, 1)
    full = AuxiliaryConfig.full()
    assert (full.image_size, full.batch_size, full.heldout_images) == (32, 256, None)
    assert AUX_PRESETS == {"small": small, "full": full}


def test_dict_round_trip_and_resolver():
    config = AuxiliaryConfig(image_size=8, train_images=500)
    assert AuxiliaryConfig.from_dict(config.to_dict()) == config
    assert aux_resolver(config.to_dict()) == config
    assert aux_resolver(config) is config
    assert aux_resolver(None) == AuxiliaryConfig() and aux_resolver("full") == \
        AuxiliaryConfig.full()


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "AuxiliaryConfig.batch_size must be a positive integer"),
    (dict(val_archs=1.5), "AuxiliaryConfig.val_archs must be a positive integer"),
    (dict(aux_steps=True), "AuxiliaryConfig.aux_steps must be a positive integer"),
    (dict(image_size=18), "multiple of 4 in 4..32"),
    (dict(image_size=36), "multiple of 4 in 4..32"),
    (dict(train_images=0), "train_images must be a positive integer or None"),
    (dict(dataset=""), "dataset must be a data set name"),
])
def test_invalid_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AuxiliaryConfig(**kwargs)


def test_unknown_names():
    with pytest.raises(ValueError, match=r"Unknown AuxiliaryConfig field\(s\) \['C'\]"):
        AuxiliaryConfig.from_dict({"C": 3})
    with pytest.raises(ValueError, match="presets: small, full"):
        aux_resolver("tiny")
