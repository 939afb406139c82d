"""One intra-op thread for the baseline tests: the networks are tiny, and on a shared
2-core machine a second spinning thread makes a backward pass 10x slower, not faster."""

import pytest
import torch


@pytest.fixture(scope="package", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
