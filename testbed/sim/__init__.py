"""Simulation of anytime inference on a platform with a fluctuating compute budget.

Pure function of (scenario, bundles, seed) -> records (:mod:`testbed.sim.records`).
Imports neither torch nor onnxruntime (live mode loads onnxruntime lazily).
"""
