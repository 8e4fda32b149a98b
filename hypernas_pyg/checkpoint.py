"""Estimator checkpoints: one torch file of tensors and plain values, never unpickled freely.

A checkpoint holds ``format``, the estimator's JSON ``config``, the fitted ``space``
(``{"name": ..., **config}``), one ``state_dicts`` entry per ensemble member, the
target scaler's state and, for the hypernetwork variants, the learned loss and the
hypernetwork statistics. Files of the first format (space by name with
``prune_cells`` beside it, one ``proxy`` dict for network and images) are upgraded
on reading.
"""
from __future__ import annotations

import pickle
import re
from typing import Any

import torch

from hypernas_pyg.atomic_file import atomic_file

#: The format :func:`write_checkpoint` writes.
CHECKPOINT_FORMAT = 2
#: Fields of the first format's ``proxy`` dict that sized the network.
_V1_NETWORK_KEYS = ("C", "N")


def write_checkpoint(path: str, state: dict[str, Any]) -> None:
    """Writes ``state`` (with the current format) to ``path`` atomically: a failed write
    leaves no file."""
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, f)


def read_checkpoint(path: str) -> dict[str, Any]:
    """The state of a checkpoint, in the current format (``weights_only`` loading).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        ValueError: when ``path`` holds no checkpoint of a known format: not a torch
            file, a truncated one, or one holding objects other than tensors and plain
            values (never unpickled).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:  # missing file, a directory, no permission: reported as they are
        raise
    except Exception as exc:
        # torch.load of arbitrary bytes fails in many ways (UnpicklingError for a foreign
        # global or a plain pickle, RuntimeError for a truncated zip, KeyError /
        # EOFError for other garbage); with weights_only=True nothing is executed.
        raise ValueError(f"{path} is not a readable HyperNASPredictor checkpoint "
                         f"({_describe(exc)})") from exc
    if not isinstance(state, dict) or state.get("format") not in (1, CHECKPOINT_FORMAT):
        raise ValueError(f"{path} is not a HyperNASPredictor checkpoint "
                         f"(format {CHECKPOINT_FORMAT})")
    return _upgrade_v1(state) if state["format"] == 1 else state


def _upgrade_v1(state: dict[str, Any]) -> dict[str, Any]:
    """A first-format checkpoint in the current layout (same model, same weights)."""
    config = dict(state["config"])
    space = {"name": config.pop("space"), "prune": config.pop("prune_cells", False)}
    proxy = config.pop("proxy", None)
    if proxy is not None:
        config["proxy"] = {k: proxy[k] for k in _V1_NETWORK_KEYS}
        config["aux"] = {k: v for k, v in proxy.items() if k not in _V1_NETWORK_KEYS}
    if config.get("variant") != "hypernas":
        config["q"] = None
    config["space"] = space
    return {**state, "format": CHECKPOINT_FORMAT, "config": config, "space": space,
            "state_dicts": [state["state_dict"], *state.get("member_state_dicts", [])]}


def _describe(exc: Exception) -> str:
    """One line on why ``torch.load`` refused a file (never torch's advice to retry with
    full unpickling)."""
    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError):
        found = re.search(r"unsupported (?:global: )?GLOBAL ([\w.]+)", text, re.IGNORECASE)
        what = f"the global {found.group(1)}" if found else "objects"
        return (f"it holds {what} beyond tensors and plain values, which are never "
                "unpickled, or it is not a torch file")
    first = (text.strip().splitlines() or [""])[0].split(". ")[0][:200]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
