"""``testbed calibrate``: fit the simulator's latency model (:mod:`testbed.sim.latency`)
to this host. Sits beside ``testbed profile`` between export and simulation (DESIGN §1):
:mod:`.graphs` counts what each stage graph executes (MACs, bytes, operators; also used
when a scenario with ``cost_model: latency`` is loaded), :mod:`.measure` times every
stage and subnet with ONNX Runtime on one pinned core, :mod:`.fit` fits the model by
non-negative least squares, and :mod:`.write` writes the platform file, the samples file
and the calibration report.
"""
