"""Task-set platforms (issue 20): the DNN workload classes and other real-time tasks on
one processor under a preemptive scheduler, instead of a fluid budget share.

Sits beside the fluid path (:mod:`testbed.sim.processor`): a scenario whose ``budget:``
has ``kind: tasks`` is parsed by :mod:`.tasks` (task specs, execution-time
distributions), scheduled by :mod:`.schedulers` (``fixed_priority``, ``edf``) in the
SimPy process of :mod:`.engine`, observed by the policies through :mod:`.monitor`, and
checked against the response-time analysis of :mod:`.analysis`.
"""
