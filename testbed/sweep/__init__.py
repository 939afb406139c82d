"""Parameter sweeps (issue 8): a grid of scenario variants, simulated in parallel on a
local process pool or a Dask cluster, collected into one table and a report.

``spec`` reads SWEEP.yaml and expands the grid; ``point`` simulates one grid point (a pure
function of the point, run in a worker); ``executors`` map points over workers;
``store`` appends finished rows so an interrupted sweep resumes; ``runner`` ties them
together; the report is written by :mod:`testbed.sweep.report`.
"""
