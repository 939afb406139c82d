"""Network architectures (as data in :mod:`testbed.arch`) and the nested-subnet torch networks
(:mod:`.nested`). ``MODEL_KINDS`` maps a checkpoint's ``config()["kind"]`` to the class
that rebuilds it, so a new kind of model (slimmable, a set of static models) is one class
plus one registration. Named ``nets`` because ``models/`` holds the exported bundles.
"""

from ..registry import Registry
from ..arch import ARCHS, geometry
from .nested import NestedNet

MODEL_KINDS: Registry = Registry("model kind")
MODEL_KINDS.register("nested")(NestedNet)
from . import slimmable, static  # noqa: E402,F401  (each registers its model kind)


def build_model(config: dict):
    """Rebuild an (untrained) model from its ``config()`` dict."""
    config = dict(config)
    return MODEL_KINDS.get(config.pop("kind"))(**config)


__all__ = ["ARCHS", "MODEL_KINDS", "NestedNet", "build_model", "geometry"]
