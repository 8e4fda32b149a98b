"""``AuxiliaryConfig``: the image data and schedule of the hypernetwork task."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Optional, Union


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class AuxiliaryConfig:
    r"""Auxiliary image data of the hypernetwork task and how much of it each step uses.

    The size of the generated networks is a separate setting, owned by the
    search space (:meth:`~hypernas_pyg.spaces.NetworkSpace.network_size`). The
    defaults are sized for a 2-core CPU; :meth:`full` uses the whole image sets
    at 32x32 and 256 images per step (meant for a GPU).

    Args:
        dataset: Name of the image data set (a key of
            :data:`hypernas_pyg.datasets.IMAGE_DATASETS`; ``"cifar10"``).
        image_size: Side of the auxiliary images (CIFAR-10 is resized from 32);
            a multiple of 4 in ``4..32`` (the networks halve the resolution twice).
        batch_size: Images per auxiliary step.
        aux_steps: Auxiliary image batches per predictor step; each draws its
            own random architecture of the predictor's mini-batch, and their
            cross-entropies are averaged into the step's hypernetwork loss.
        train_images: Size of the random subset of the ``train`` split used for
            training; ``None`` uses the whole split.
        heldout_images: Size of the random subset of the ``heldout`` split that
            measures the hypernetwork validation accuracy; ``None`` uses it all.
        val_archs: Number of held-out architectures (sampled from the search
            space, none of them a training architecture) whose generated
            networks are scored for the hypernetwork validation accuracy.

    Raises:
        ValueError: for a non-positive size, an ``image_size`` that is not a
            multiple of 4 in ``4..32``, or a ``dataset`` that is not a string.
    """

    dataset: str = "cifar10"
    image_size: int = 16
    batch_size: int = 64
    aux_steps: int = 1
    train_images: Optional[int] = None
    heldout_images: Optional[int] = 1000
    val_archs: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"AuxiliaryConfig.dataset must be a data set name, "
                             f"got {self.dataset!r}")
        for name in ("batch_size", "aux_steps", "val_archs"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(
                    f"AuxiliaryConfig.{name} must be a positive integer, got {value!r}")
        for name in ("train_images", "heldout_images"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise ValueError(f"AuxiliaryConfig.{name} must be a positive integer or "
                                 f"None, got {value!r}")
        size = self.image_size
        if not _is_int(size) or not 4 <= size <= 32 or size % 4:
            raise ValueError(
                f"AuxiliaryConfig.image_size must be a multiple of 4 in 4..32, got {size!r}")

    @classmethod
    def full(cls) -> "AuxiliaryConfig":
        """Whole image sets, 32x32, 256 images per step, 50 validation archs (GPU)."""
        return cls(image_size=32, batch_size=256, aux_steps=1, train_images=None,
                   heldout_images=None, val_archs=50)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-serialisable dict (inverse of :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> "AuxiliaryConfig":
        """Builds a config from :meth:`to_dict`'s output.

        Raises:
            ValueError: for unknown keys, listing the known ones.
        """
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise ValueError(f"Unknown AuxiliaryConfig field(s) {unknown}; "
                             f"known: {', '.join(known)}")
        return cls(**config)


#: Named settings: ``"small"`` (the CPU default) and ``"full"``.
AUX_PRESETS: dict[str, AuxiliaryConfig] = {"small": AuxiliaryConfig(),
                                           "full": AuxiliaryConfig.full()}


def aux_resolver(aux: Union[None, str, dict, AuxiliaryConfig]) -> AuxiliaryConfig:
    """Returns ``aux`` as an :class:`AuxiliaryConfig`.

    Args:
        aux: A config (passed through), a dict of its fields, a preset name of
            :data:`AUX_PRESETS`, or ``None`` for the default (``"small"``).

    Raises:
        ValueError: for an unknown preset name or field, or an invalid value.
    """
    if aux is None:
        return AuxiliaryConfig()
    if isinstance(aux, AuxiliaryConfig):
        return aux
    if isinstance(aux, dict):
        return AuxiliaryConfig.from_dict(aux)
    if isinstance(aux, str) and aux in AUX_PRESETS:
        return AUX_PRESETS[aux]
    raise ValueError(f"Unknown aux {aux!r}: give an AuxiliaryConfig, a dict of its fields or "
                     f"one of the presets: {', '.join(AUX_PRESETS)}")
