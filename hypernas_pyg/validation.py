"""Argument checks that name the argument, its value and what is allowed."""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Optional


def check_int(name: str, value: Any, minimum: int = 1, allow_none: bool = False) -> None:
    """Raises ``ValueError`` unless ``value`` is an integer ``>= minimum`` (not a bool)."""
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive integer" if minimum == 1 else (
            "a non-negative integer" if minimum == 0 else f"an integer of at least {minimum}")
        raise ValueError(f"{name} must be {'None or ' if allow_none else ''}{kind}, "
                         f"got {value!r}")


def check_real(name: str, value: Any, minimum: float = 0.0, strict: bool = False,
               maximum: Optional[float] = None, allow_none: bool = False) -> None:
    """Raises ``ValueError`` unless ``value`` is a finite real number ``>= minimum``
    (``> minimum`` with ``strict``) and below ``maximum`` when one is given."""
    if allow_none and value is None:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and math.isfinite(value) and (value > minimum if strict else value >= minimum) \
        and (maximum is None or value < maximum)
    if not ok:
        if maximum is not None:
            kind = f"a number in [{minimum:g}, {maximum:g})"
        elif minimum == 0:
            kind = "a finite positive number" if strict else "a finite non-negative number"
        else:
            kind = f"a finite number {'>' if strict else '>='} {minimum:g}"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def check_choice(name: str, value: Any, choices: Iterable[Any], extra: str = "") -> None:
    """Raises ``ValueError`` unless ``value`` is one of ``choices`` (listed in the message)."""
    choices = list(choices)
    if not any(value == c and type(value) is type(c) for c in choices):
        raise ValueError(f"Unknown {name} {value!r}; choose one of: "
                         f"{', '.join(map(str, choices))}{extra}")


def check_device(name: str, value: Any) -> None:
    """Raises ``ValueError`` unless ``value`` names a torch device that exists here
    (``"cpu"``, or ``"cuda[:k]"`` / ``"mps"`` when available)."""
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a torch device "
                         "(e.g. 'cpu', 'cuda', 'cuda:1')") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{name} {value!r}: CUDA is not available on this machine "
                             "(no GPU, or torch built without CUDA); use 'cpu'")
        if device.index is not None and device.index >= count:
            raise ValueError(f"{name} {value!r}: no such GPU; this machine has {count} "
                             f"(cuda:0..cuda:{count - 1})")
    elif device.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"{name} {value!r}: MPS is not available on this machine; "
                             "use 'cpu'")
