"""Architectures as data: a list of layer specs per network, and one function that turns
(architecture, width, classes, input shape) into concrete layer geometry.

Pure Python (no torch): the MAC accounting in :mod:`testbed.cost`, ``testbed info`` and
the torch networks in :mod:`testbed.nets.nested` all read the same :class:`LayerGeom`
list, so the shape of a network is written down exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import Registry


@dataclass(frozen=True)
class Conv:
    units: int          # output channels at width 1.0
    kernel: int
    padding: int = 0
    bn: bool = True
    pool: int = 0       # max-pool size after the ReLU (0: none)


@dataclass(frozen=True)
class Dense:
    units: int
    bn: bool = False


@dataclass(frozen=True)
class LayerGeom:
    """One weight layer with its concrete sizes. ``in_per_unit`` is how many input
    features each input unit contributes (H*W of the previous conv map after a flatten,
    else 1)."""
    name: str
    kind: str           # "conv" | "linear"
    in_units: int
    out_units: int
    kernel: int = 1
    padding: int = 0
    in_hw: tuple[int, int] = (1, 1)
    out_hw: tuple[int, int] = (1, 1)     # conv output size (before pooling)
    pool: int = 0
    bn: bool = False
    relu: bool = True
    in_per_unit: int = 1
    classifier: bool = False

    @property
    def in_features(self) -> int:
        return self.in_units * self.in_per_unit

    @property
    def weight_shape(self) -> tuple[int, ...]:
        if self.kind == "conv":
            return (self.out_units, self.in_units, self.kernel, self.kernel)
        return (self.out_units, self.in_features)

    @property
    def macs_per_weight(self) -> int:
        """MACs one non-zero weight element costs: every output position (DESIGN §2)."""
        return self.out_hw[0] * self.out_hw[1] if self.kind == "conv" else 1


ARCHS: Registry[list] = Registry("architecture")


@ARCHS.register("lenet3c1l")
def _lenet3c1l() -> list:
    """The CIFAR-10 'LeNet-3C1L' of the any-width networks paper: 3 conv + 1 linear."""
    return [Conv(32, 3), Conv(32, 3, pool=2), Conv(32, 5, pool=2)]


@ARCHS.register("lenet5")
def _lenet5() -> list:
    """Classic LeNet-5 (ReLU, no BatchNorm): 2 conv + 2 hidden linear layers."""
    return [Conv(6, 5, bn=False, pool=2), Conv(16, 5, bn=False, pool=2),
            Dense(120), Dense(84)]


_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"]


@ARCHS.register("vgg16")
def _vgg16() -> list:
    """VGG-16 for 32x32 inputs: 13 conv 3x3 (padding 1, BN, ReLU), 5 max-pools."""
    layers: list = []
    for item in _VGG16:
        if item == "M":
            layers[-1] = Conv(layers[-1].units, 3, padding=1, pool=2)
        else:
            layers.append(Conv(item, 3, padding=1))
    return layers


def scaled(units: int, width: float) -> int:
    """Units of a layer at a width multiplier (expansion ratio)."""
    return max(1, int(round(units * width)))


def geometry(arch: str, width: float = 1.0, classes: int = 10,
             input_shape: tuple[int, int, int] = (3, 32, 32)) -> list[LayerGeom]:
    """Concrete layers of ``arch``: hidden layers first, the classifier last."""
    specs = ARCHS.get(arch)()
    channels, h, w = input_shape
    per_unit, out = 1, []
    for i, spec in enumerate(specs, start=1):
        units = scaled(spec.units, width)
        if isinstance(spec, Conv):
            oh, ow = h + 2 * spec.padding - spec.kernel + 1, w + 2 * spec.padding - spec.kernel + 1
            if oh < 1 or ow < 1:
                raise ValueError(f"{arch}: input {input_shape} too small for conv{i}")
            out.append(LayerGeom(f"conv{i}", "conv", channels, units, spec.kernel, spec.padding,
                                 (h, w), (oh, ow), spec.pool, spec.bn))
            h, w = (oh // spec.pool, ow // spec.pool) if spec.pool else (oh, ow)
        else:
            per_unit = h * w if out and out[-1].kind == "conv" else 1
            out.append(LayerGeom(f"fc{i}", "linear", channels, units, bn=spec.bn,
                                 in_per_unit=per_unit))
            h = w = 1
        channels = units
    per_unit = h * w if out[-1].kind == "conv" else 1
    out.append(LayerGeom("classifier", "linear", channels, classes, relu=False,
                         in_per_unit=per_unit, classifier=True))
    return out
