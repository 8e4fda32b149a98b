"""DARTSSpace: every genotype form, faults named, canonical key, sampling, mutation, cells."""
from collections import Counter, namedtuple

import numpy as np
import pytest

from hypernas_pyg.spaces import SPACES, DARTSSpace, space_resolver
from hypernas_pyg.spaces.darts import DARTS_OPS, DARTSGenotype

SPACE = DARTSSpace()
Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
# DARTS-V2 (genotypes.py of the DARTS code).
V2_NORMAL = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
             ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)]
V2_REDUCE = [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
             ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]
V2 = (f"Genotype(normal={V2_NORMAL}, normal_concat=[2, 3, 4, 5], reduce={V2_REDUCE}, "
      "reduce_concat=[2, 3, 4, 5])")


def nested(pairs):
    return [[pairs[2 * k], pairs[2 * k + 1]] for k in range(4)]


def test_every_input_form_gives_one_canonical_string():
    canonical = SPACE.validate(V2)
    compact = [[(i, DARTS_OPS.index(op)) for op, i in c] for c in (V2_NORMAL, V2_REDUCE)]
    forms = [
        V2,
        "GENOTYPE=" + V2.replace("[2, 3, 4, 5]", "range(2, 6)"),       # the 214-set's form
        f"Genotype(normal={nested(V2_NORMAL)}, normal_concat=range(2, 6), "
        f"reduce={nested(V2_REDUCE)}, reduce_concat=range(2, 6))",     # per-node lists
        Genotype(V2_NORMAL, range(2, 6), V2_REDUCE, range(2, 6)),      # DARTS's namedtuple
        {"normal": V2_NORMAL, "reduce": V2_REDUCE},
        compact, str(compact), canonical, SPACE.parse(V2),
    ]
    for form in forms:
        assert SPACE.validate(form) == canonical, form
    g = SPACE.parse(canonical)
    assert SPACE.validate(g.to_darts()) == canonical
    assert [list(c) for c in g.to_compact()] == [[tuple(p) for p in c] for c in compact]
    assert canonical.startswith("normal:sep_conv_3x3~0,sep_conv_3x3~1|")


@pytest.mark.parametrize("edit, message", [
    (lambda n: n[:7], "needs 8 \\(op, input\\) pairs"),
    (lambda n: [("conv_7x7", 0)] + n[1:], "unknown op 'conv_7x7'"),
    (lambda n: [("none", 0)] + n[1:], "op 'none' is not a choice"),
    (lambda n: n[:2] + [("sep_conv_3x3", 3)] + n[3:], "node 3: input 3 is not an earlier node"),
    (lambda n: [("sep_conv_3x3", 1)] + n[1:], "node 2: both pairs read input 1"),
    (lambda n: [("sep_conv_3x3", -1)] + n[1:], "input -1 is not an earlier node"),
])
def test_bad_genotypes_name_the_fault(edit, message):
    with pytest.raises(ValueError, match=message):
        SPACE.parse({"normal": edit(list(V2_NORMAL)), "reduce": V2_REDUCE})


@pytest.mark.parametrize("text, message", [
    (V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3]"), "normal_concat must be"),
    ("Genotype(normal=__import__('os').system('x'), reduce=[])", "only literals"),
    ("Genotype(normal=[], reduce=[], extra=1)", "unknown Genotype field"),
    ("normal:sep_conv_3x3~0", "expected 'normal:op~i,op~j"),
    (str([[(0, 9)] + [(1, 1)] * 7, [(0, 1)] * 8]), "op index 9 is not in 0..6"),
    ("[[(0, 9)] * 8, [(0, 1)] * 8]", "only literals"),
    ("not a genotype (", "malformed DARTS genotype"),
])
def test_bad_text_is_read_not_run(text, message):
    with pytest.raises(ValueError, match=message):
        SPACE.parse(text)
    with pytest.raises(ValueError, match="a DARTS architecture is"):
        SPACE.parse(3.5)


def test_canonical_key_identifies_equal_functions():
    key = SPACE.canonical_key(V2)
    # The two pairs of every node in the other order.
    swapped = [V2_NORMAL[k ^ 1] for k in range(8)]
    assert SPACE.validate({"normal": swapped, "reduce": V2_REDUCE}) != SPACE.validate(V2)
    assert SPACE.canonical_key({"normal": swapped, "reduce": V2_REDUCE}) == key
    # Nodes 2 and 3 of the normal cell exchanged; node 5 read node 2, now reads node 3.
    perm = V2_NORMAL[2:4] + V2_NORMAL[0:2] + V2_NORMAL[4:6] + [("skip_connect", 0),
                                                               ("dil_conv_3x3", 3)]
    assert SPACE.canonical_key({"normal": perm, "reduce": V2_REDUCE}) == key
    # A genuinely different cell: node 5 reading node 4 instead.
    other = V2_NORMAL[:7] + [("dil_conv_3x3", 4)]
    assert SPACE.canonical_key({"normal": other, "reduce": V2_REDUCE}) != key
    # And the cells are not interchangeable.
    assert SPACE.canonical_key({"normal": V2_REDUCE, "reduce": V2_NORMAL}) != key


def test_sampling_is_darts_uniform():
    rng = np.random.default_rng(0)
    archs = SPACE.sample(3000, rng)
    ops, inputs = Counter(), {n: Counter() for n in range(4)}
    for a in archs:
        g = SPACE.parse(a)  # valid: distinct inputs, earlier nodes
        for k, (op, source) in enumerate(g.normal + g.reduce):
            ops[op] += 1
            inputs[(k % 8) // 2][source] += 1
    expected = 3000 * 16 / 7
    assert all(abs(ops[o] - expected) < 0.08 * expected for o in DARTS_OPS)
    for node, counts in inputs.items():  # each of the node + 2 inputs equally often
        assert sorted(counts) == list(range(node + 2))
        mean = sum(counts.values()) / (node + 2)
        assert all(abs(c - mean) < 0.1 * mean for c in counts.values())
    assert SPACE.sample(2, np.random.default_rng(5)) == SPACE.sample(2, np.random.default_rng(5))


def test_mutation_changes_one_choice():
    rng = np.random.default_rng(1)
    arch = SPACE.validate(V2)
    seen = set()
    for _ in range(400):
        child = SPACE.mutate(arch, rng)
        a, b = SPACE.parse(arch), SPACE.parse(child)
        diffs = [(c, k) for c, (x, y) in enumerate(((a.normal, b.normal), (a.reduce, b.reduce)))
                 for k in range(8) if x[k] != y[k]]
        assert len(diffs) == 1
        c, k = diffs[0]
        x, y = (a.normal, b.normal) if c == 0 else (a.reduce, b.reduce)
        assert (x[k][0] != y[k][0]) != (x[k][1] != y[k][1])  # op or input, not both
        seen.add(child)
    # 16 pairs x 6 other ops, plus the input moves (0 for node 2, then 1, 2, 3 per pair).
    assert len(seen) > 100


def test_cell_sequence_is_the_evaluation_network():
    cells = SPACE.cell_sequence(V2)
    assert len(cells) == 20 and SPACE.reduction_positions() == (6, 13)
    assert [i for i, c in enumerate(cells) if c.kind == "reduce"] == [6, 13]
    normal = cells[0]
    assert normal.ops[:2] == ("input_prev", "input") and normal.ops[-1] == "output"
    assert normal.ops.count("add") == 4 and len(normal.ops) == 15
    assert len(normal.edges) == 8 + 8 + 4 and all(s < d for s, d in normal.edges)
    # Node 5's dil_conv (position 12) reads node 2 (its add at position 4).
    assert (4, 12) in normal.edges and normal.ops[12] == "dil_conv_3x3"
    assert normal.ops[4] == normal.ops[7] == "add" and (12, 13) in normal.edges
    assert len(DARTSSpace(layers=8).cell_sequence(V2)) == 8


def test_features_and_registry():
    f = SPACE.features(V2)
    assert f.shape == (192,) and f.sum() == 32
    assert SPACES["darts"] is DARTSSpace
    assert space_resolver({"name": "darts", "layers": 14}) == DARTSSpace(layers=14)
    with pytest.raises(ValueError, match="layers must be"):
        DARTSSpace(layers=2)
    assert isinstance(SPACE.parse(V2), DARTSGenotype)


def test_predictors_run_on_darts():
    from hypernas_pyg import HyperNASPredictor
    from hypernas_pyg.baselines import OneHotGBDTPredictor
    archs = SPACE.sample(40, np.random.default_rng(0))
    y = [float(SPACE.parse(a).normal.count(("sep_conv_3x3", 0))) for a in archs]
    model = HyperNASPredictor(space="darts", variant="hypernas-p", epochs=3,
                              hidden_channels=8, progress=False).fit(archs, y)
    assert np.isfinite(model.predict(archs[:5])).all()
    assert OneHotGBDTPredictor("darts", n_estimators=10).fit(archs, y).predict(archs).shape == (40,)
    assert SPACE.has_network  # the hypernetwork variants: tests/test_hypernet_variants.py


def _mirror_file(*parts):
    import os
    mirror = os.environ.get("HYPERNAS_MIRROR")
    path = os.path.join(mirror, *parts) if mirror else None
    if not path or not os.path.exists(path):
        pytest.skip(f"HYPERNAS_MIRROR does not hold {'/'.join(parts)}")
    return path


def test_real_genotypes_parse():
    """The 214 trained genotypes (DARTS's form, per-node lists) and the 725 NAS-Bench-301
    genotypes (NASLib's compact form) all parse; the 214 are distinct functions."""
    import json
    import pickle

    class Restricted(pickle.Unpickler):  # numpy scalars only; nothing else is loaded
        def find_class(self, module, name):
            if (module, name) in {("numpy.core.multiarray", "scalar"),
                                  ("numpy._core.multiarray", "scalar"), ("numpy", "dtype")}:
                return getattr(np, "dtype") if name == "dtype" else _scalar
            raise pickle.UnpicklingError(f"{module}.{name} refused")

    def _scalar(dtype, data):
        return np.frombuffer(data, dtype=dtype)[0]

    with open(_mirror_file("darts_random214", "214genotypes.pkl"), "rb") as f:
        rows = Restricted(f).load()
    keys = {SPACE.canonical_key(text) for text, _ in rows}
    assert len(rows) == 214 and len(keys) == 214
    assert all(96.0 < float(acc) < 98.0 for _, acc in rows)
    with open(_mirror_file("darts_nb301", "zc_nasbench301.json")) as f:
        table = json.load(f)["cifar10"]
    archs = [SPACE.validate(key) for key in table]
    assert len(archs) == 725 and len(set(archs)) == 725
