"""Fixtures for export tests: a session cache of exported bundles."""

import pytest

from tests.export.exportfakes import LIMIT, make_model, meta_for
from testbed.export.writer import export_model


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """Cache of exported bundles: (arch, method) -> (model, bundle path)."""
    cache = {}

    def get(arch, method):
        if (arch, method) not in cache:
            model = make_model(arch, method)
            out = tmp_path_factory.mktemp("bundles") / f"{arch}-{method}"
            export_model(model, meta_for(arch, method), out, limit=LIMIT, threads=1)
            cache[arch, method] = (model, out)
        return cache[arch, method]
    return get
