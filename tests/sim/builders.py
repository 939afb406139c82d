"""Raw scenario data for tests: small valid scenarios to load or to break."""


def scenario_dict(entries: list[dict], **top) -> dict:
    """A small valid scenario (10 fps, 60 ms deadline, constant budget) as raw YAML data."""
    raw = {"name": "toy", "seed": 3, "duration_s": 5.0,
           "platform": {"peak_gmacs": 0.5, "stage_overhead_ms": 0.1, "pj_per_mac": 100.0},
           "budget": {"kind": "constant", "budget": 1.0},
           "workload": [{"name": "camera", "kind": "periodic", "period_ms": 100,
                         "deadline_ms": 60}],
           "cost_model": "macs", "systems": entries}
    raw.update(top)
    return raw
