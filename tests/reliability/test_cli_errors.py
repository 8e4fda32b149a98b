"""The ``hypernas`` tool reports user errors as one line and exit code 2, no traceback."""
import os
import os.path as osp

import pytest
import torch

import hypernas_pyg.cli as cli
from hypernas_pyg.cli import main
from hypernas_pyg.predictor import HyperNASPredictor


def _evaluate(root, *extra):
    return main(["evaluate", "--root", root, "--dataset", "cifar100", "--train-size", "10",
                 "--variant", "np", "--hidden-channels", "8", "--epochs", "2", *extra])


def _one_error_line(capsys, *needles):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("hypernas: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def no_data(monkeypatch):
    """Fails the test if the command gets as far as loading the benchmark."""
    def refuse(args):
        raise AssertionError("the benchmark was loaded before the output paths were checked")
    monkeypatch.setattr(cli, "_load_benchmark", refuse)


def test_evaluate_then_predict_still_work(nb201_root, tmp_path, capsys):
    out, ckpt = tmp_path / "out" / "r.json", tmp_path / "m.pt"
    assert _evaluate(nb201_root, "--json", str(out), "--save", str(ckpt)) == 0
    assert out.is_file() and ckpt.is_file()
    assert [p for p in os.listdir(out.parent) if p.endswith(".part")] == []
    capsys.readouterr()
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|"
    assert main(["predict", str(ckpt), arch]) == 0
    assert capsys.readouterr().out.strip().endswith(arch)


def test_diverging_evaluate_fails_with_one_line(nb201_root, tmp_path, capsys):
    out, ckpt = tmp_path / "r.json", tmp_path / "m.pt"
    code = main(["evaluate", "--root", nb201_root, "--dataset", "cifar100", "--train-size",
                 "10", "--hidden-channels", "8", "--lr", "10", "--epochs", "5",
                 "--json", str(out), "--save", str(ckpt)])
    assert code == 2
    _one_error_line(capsys, "training diverged", "lr=10 is likely too large")
    assert not out.exists() and not ckpt.exists()


def test_json_path_is_a_directory(tmp_path, capsys, no_data):
    assert main(["evaluate", "--train-size", "10", "--json", str(tmp_path)]) == 2
    _one_error_line(capsys, "--json", "is a directory")


def test_parent_cannot_be_created(tmp_path, capsys, no_data):
    (tmp_path / "file").write_text("x")
    bad = str(tmp_path / "file" / "sub" / "m.pt")
    assert main(["evaluate", "--train-size", "10", "--save", bad]) == 2
    _one_error_line(capsys, "--save", "is a file")
    assert not osp.exists(tmp_path / "file" / "sub")


def test_parent_not_writable(tmp_path, capsys, no_data, monkeypatch):
    real_access = os.access
    locked = str(tmp_path / "locked")
    os.mkdir(locked)
    # Tests may run as root, which chmod cannot lock out: refuse access by hand.
    monkeypatch.setattr(os, "access", lambda p, mode: False if osp.realpath(p) == osp.realpath(
        locked) else real_access(p, mode))
    assert main(["evaluate", "--train-size", "10", "--json", osp.join(locked, "r.json")]) == 2
    _one_error_line(capsys, "--json", "is not writable")


def test_json_and_save_are_the_same_file(tmp_path, capsys, no_data):
    path = str(tmp_path / "x.out")
    assert main(["evaluate", "--train-size", "10", "--json", path,
                 "--save", osp.join(str(tmp_path), ".", "x.out")]) == 2
    _one_error_line(capsys, "--save and --json name the same file")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda(capsys, no_data):
    assert main(["evaluate", "--train-size", "10", "--device", "cuda"]) == 2
    _one_error_line(capsys, "device 'cuda'", "CUDA is not available")


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_bad_threads_rejected_by_argparse(value, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--train-size", "10", "--threads", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "positive integer" in err and "Traceback" not in err


@pytest.fixture
def checkpoint(tmp_path, nb201_archs):
    archs, y = nb201_archs
    path = tmp_path / "model.pt"
    HyperNASPredictor(space="nasbench201", epochs=1, hidden_channels=8,
                      progress=False).fit(archs, y).save(str(path))
    return path


def test_predict_on_bad_files(tmp_path, checkpoint, nb201_archs, capsys):
    arch = nb201_archs[0][0]
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:2000])
    hello = tmp_path / "hello.txt"
    hello.write_text("hello\n")  # torch.load raised KeyError on this one
    plain = tmp_path / "plain.pt"
    torch.save({"weights": torch.ones(2)}, plain)
    cases = [(text, "notes.txt is not a readable HyperNASPredictor checkpoint"),
             (truncated, "truncated.pt is not a readable HyperNASPredictor checkpoint"),
             (hello, "hello.txt is not a readable HyperNASPredictor checkpoint"),
             (plain, "plain.pt is not a HyperNASPredictor checkpoint"),
             (tmp_path / "missing.pt", "missing.pt"),
             (tmp_path, str(tmp_path))]
    for path, needle in cases:
        assert main(["predict", str(path), arch]) == 2, path
        _one_error_line(capsys, needle)
    assert main(["predict", str(checkpoint), arch]) == 0


def test_predict_with_a_bad_arch(checkpoint, capsys):
    assert main(["predict", str(checkpoint), "|conv_9x9~0|"]) == 2
    _one_error_line(capsys, "conv_9x9")
