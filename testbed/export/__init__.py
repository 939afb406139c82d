"""Export: the arrow from a trained checkpoint to a model bundle (DESIGN §3).

``fold`` turns a NestedNet into BN-folded numpy layers, ``plan`` decides which state
tensors each stage consumes and emits, ``stages`` builds the ONNX stage graphs (and
monolithic subnet graphs), ``onnx_macs`` counts MACs from a graph on its own,
``runtime`` chains stage graphs in ONNX Runtime, ``verify`` and ``evaluate`` check and
score the graphs, ``manifest`` and ``writer`` put the bundle on disk, ``validate`` checks
a bundle that is already there. Heavy imports (torch, onnx, onnxruntime) live in the
submodules, so importing this package is cheap.
"""


def export_checkpoint(*args, **kwargs):
    """See :func:`testbed.export.writer.export_checkpoint`."""
    from .writer import export_checkpoint as run
    return run(*args, **kwargs)
