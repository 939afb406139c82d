"""SteppingNet testbed: train nested subnets, export them as chained ONNX stage graphs,
and simulate anytime inference on a platform whose compute budget fluctuates.

Pipeline (one subpackage per arrow, see DESIGN.md §1):
``data`` -> ``nets`` -> ``train`` -> ``export`` (-> ``bundle``) -> ``profile`` -> ``sim`` -> ``report``.
"""

__version__ = "0.1.0"
