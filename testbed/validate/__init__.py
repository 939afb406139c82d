"""Hardware-in-the-loop validation (``testbed validate``): the simulator against real
execution of the same scenario on this host.

Beside the simulator in the pipeline, reading what it reads (scenario, bundles, seed) and
writing ``validation.json`` + ``report.md``: :mod:`.validation` orchestrates,
:mod:`.executor` runs the ONNX stage graphs live, :mod:`.mechanism` and :mod:`.corunner`
impose the budget trace (a SCHED_FIFO co-runner, or time dilation), :mod:`.compare` and
:mod:`.report` compare and write. ``testbed.sim`` never imports this package.
"""
