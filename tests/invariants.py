"""The reuse invariant of DESIGN §2, as one check that every nested-subnet model's tests
call: each unit of subnet k computes bit for bit the same value in every larger subnet,
and units outside subnet k are zero."""

import torch


def assert_reuse_invariant(net, x: torch.Tensor) -> None:
    k_max = net.num_steps
    acts = {}
    for k in range(1, k_max + 1):
        trace = []
        with torch.no_grad():
            net.features(x, k, trace=trace)
        acts[k] = trace
    for k in range(1, k_max + 1):
        for i, layer in enumerate(net.hidden):
            mine = layer.step <= k
            for bigger in range(k, k_max + 1):
                assert torch.equal(acts[k][i][:, mine], acts[bigger][i][:, mine])
            assert (acts[k][i][:, ~mine] == 0).all()
