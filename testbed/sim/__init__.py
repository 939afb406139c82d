"""Simulation of anytime inference on a platform with a fluctuating compute budget.

Pure function of (scenario, bundles, seed) -> records (:mod:`testbed.sim.records`).
Imports neither torch nor onnxruntime (live mode loads them lazily). Modules, in the
order data flows through them:

* ``params``: YAML mapping -> validated frozen dataclass (used by everything below);
* ``trace``: piecewise-constant budget traces, their CSV form and the pure time math;
* ``budgets``: seeded trace generators (``BUDGETS``); ``seeds``: per-component streams;
* ``workload``: job classes and the frame stream; ``waiting``: overrun and priority rules;
* ``platform``: peak throughput, overheads, energy, step costs (``macs``/``profiled``/
  ``latency``); ``latency``: the calibrated latency model and its seeded variability;
* ``observation`` + ``policies``: what a policy sees and the policies (``POLICIES``);
* ``outcomes``: per-sample verdicts, replayed from eval.npz or from ``live`` ONNX runs;
* ``processor``: one system's SimPy process; ``engine``: :func:`simulate`.
"""
