"""``ProxyConfig``: the size of the proxy target networks of the hypernetwork task."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Optional, Union


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ProxyConfig:
    r"""Proxy target network and auxiliary-data settings of the hypernetwork task.

    The hypernetwork generates the convolution kernels of a NAS-Bench-201
    network with ``C`` channels in its first stage and ``N`` cells per stage
    (:class:`~hypernas_pyg.target.NASBench201Network`) and trains it on CIFAR-10
    images of side ``image_size``. The defaults are a small proxy sized for a
    2-core CPU (a full ``hypernas`` fit on 78 NAS-Bench-201 architectures stays
    within a few minutes); :meth:`full` is the real benchmark network
    (``C=16, N=5``, 32x32 images, 256 images per step), meant for a GPU.

    The encoder graphs keep the predictor's own cell sequence (``N = 5`` cells
    per stage for NAS-Bench-201). A proxy with fewer cells per stage reads the
    node features of the *first* ``N`` cells of every stage and of both
    reduction blocks (see
    :meth:`~hypernas_pyg.spaces.NASBench201Space.proxy_cell_positions`), so the
    hypernetwork and the regressor share one encoding of one graph.

    Args:
        C: Channels of the first stage (16 in the benchmark).
        N: Cells per stage, at most the search space's cells per stage.
        image_size: Side of the auxiliary images (CIFAR-10 is resized from 32);
            a multiple of 4 (the network halves the resolution twice).
        batch_size: Images per auxiliary step.
        aux_steps: Auxiliary image batches per predictor step; each draws its
            own random architecture of the predictor's mini-batch, and their
            cross-entropies are averaged into the step's hypernetwork loss.
        train_images: Size of the random subset of the CIFAR-10 ``train`` split
            (45,000 images) used for training; ``None`` uses the whole split.
        heldout_images: Size of the random subset of the ``heldout`` split
            (5,000 images) that measures the hypernetwork validation accuracy;
            ``None`` uses the whole split.
        val_archs: Number of held-out architectures (sampled from the search
            space, none of them a training architecture) whose generated
            networks are scored for the hypernetwork validation accuracy.

    Raises:
        ValueError: for a non-positive size, an ``image_size`` that is not a
            multiple of 4 in ``4..32``.
    """

    C: int = 8
    N: int = 1
    image_size: int = 16
    batch_size: int = 64
    aux_steps: int = 1
    train_images: Optional[int] = None
    heldout_images: Optional[int] = 1000
    val_archs: int = 20

    def __post_init__(self) -> None:
        for name in ("C", "N", "batch_size", "aux_steps", "val_archs"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"ProxyConfig.{name} must be a positive integer, got {value!r}")
        for name in ("train_images", "heldout_images"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(
                    f"ProxyConfig.{name} must be a positive integer or None, got {value!r}")
        size = self.image_size
        if not _is_int(size) or not 4 <= size <= 32 or size % 4:
            raise ValueError(
                f"ProxyConfig.image_size must be a multiple of 4 in 4..32, got {size!r}")

    @classmethod
    def full(cls) -> "ProxyConfig":
        """The benchmark-size network: ``C=16, N=5``, 32x32 images, 256 per step (GPU)."""
        return cls(C=16, N=5, image_size=32, batch_size=256, aux_steps=1, train_images=None,
                   heldout_images=None, val_archs=50)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict (inverse of :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> "ProxyConfig":
        """Builds a config from :meth:`to_dict`'s output.

        Raises:
            ValueError: for unknown keys, listing the known ones.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"Unknown ProxyConfig field(s) {unknown}; "
                             f"known: {', '.join(f.name for f in fields(cls))}")
        return cls(**config)


#: Named proxy settings: ``"small"`` (the CPU default) and ``"full"`` (benchmark size).
PROXY_PRESETS: dict[str, ProxyConfig] = {"small": ProxyConfig(), "full": ProxyConfig.full()}


def proxy_resolver(proxy: Union[None, str, dict, ProxyConfig]) -> ProxyConfig:
    """Returns ``proxy`` as a :class:`ProxyConfig`.

    Args:
        proxy: A config (passed through), a dict of its fields, a preset name
            of :data:`PROXY_PRESETS`, or ``None`` for the default (``"small"``).

    Raises:
        ValueError: for an unknown preset name or field, or an invalid value.
    """
    if proxy is None:
        return ProxyConfig()
    if isinstance(proxy, ProxyConfig):
        return proxy
    if isinstance(proxy, dict):
        return ProxyConfig.from_dict(proxy)
    if isinstance(proxy, str) and proxy in PROXY_PRESETS:
        return PROXY_PRESETS[proxy]
    raise ValueError(f"Unknown proxy {proxy!r}: give a ProxyConfig, a dict of its fields or "
                     f"one of the presets: {', '.join(PROXY_PRESETS)}")
