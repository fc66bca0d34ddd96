"""Layer groups: the units that strategies freeze, unfreeze and give learning rates to.

timm models describe their own groups (``group_matcher``); other models are grouped by
their top-level children, descending into a container that holds most of the network.
"""

from __future__ import annotations

from dataclasses import dataclass

from timm.models import group_parameters
from torch import nn


@dataclass(frozen=True)
class LayerGroup:
    """An ordered slice of the backbone, from the input side (index 0) to the output side."""

    name: str
    params: tuple[str, ...]  # parameter names, relative to the backbone body


def layer_groups(body: nn.Module) -> list[LayerGroup]:
    """Split ``body``'s parameters into ordered groups, input side first."""
    matcher = getattr(body, "group_matcher", None)
    if callable(matcher):
        grouped = group_parameters(body, matcher(coarse=True))
        groups = [list(names) for names in grouped.values() if names]
    else:
        groups = _groups_from_children(body)
    return [LayerGroup(_group_name(names), tuple(names)) for names in groups]


def _groups_from_children(body: nn.Module) -> list[list[str]]:
    prefix = ""
    module = body
    while True:
        children = [(n, c) for n, c in module.named_children() if _n_params(c)]
        biggest = max(children, key=lambda nc: _n_params(nc[1]), default=None)
        # Descend into a container such as ``features`` that holds nearly all the weights.
        if biggest and len(children) < 3 and _n_params(biggest[1]) > 0.8 * _n_params(module):
            prefix += biggest[0] + "."
            module = biggest[1]
            continue
        break
    groups: list[list[str]] = []
    seen: set[str] = set()
    for name, child in module.named_children():
        names = [f"{prefix}{name}.{p}" for p, _ in child.named_parameters()]
        if names:
            groups.append(names)
            seen.update(names)
    rest = [n for n, _ in body.named_parameters() if n not in seen]
    if rest:  # parameters outside the container (e.g. a final norm) join the last group
        groups[-1].extend(rest) if groups else groups.append(rest)
    return groups


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _group_name(param_names: list[str]) -> str:
    tops: list[str] = []
    for name in param_names:
        parts = name.split(".")
        keep = parts[:2] if len(parts) > 2 and parts[1].isdigit() else parts[:1]
        top = ".".join(keep)
        if top not in tops:
            tops.append(top)
    # ``layer1.0`` and ``layer1.1`` together are ``layer1``.
    firsts = [t.split(".")[0] for t in tops]
    tops = list(dict.fromkeys(f if firsts.count(f) > 1 else t for f, t in zip(firsts, tops)))
    return "+".join(tops[:3]) + ("+..." if len(tops) > 3 else "")
