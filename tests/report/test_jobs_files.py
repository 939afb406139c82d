"""JobsCsvWriter's modes: plain by default, gzip once past a row limit (the same bytes
every time, the same rows as plain), and a sample of each system's first jobs of the
first seed."""

import gzip

from testbed.report.writers import JobsCsvWriter
from tests.report.reportfakes import hand_records


def runs():
    """Two seeds of two systems, four jobs each, in the order the collector writes them."""
    return [hand_records("a", 1) + hand_records("b", 1), hand_records("a", 2) + hand_records("b", 2)]


def write(path, **options) -> JobsCsvWriter:
    path.parent.mkdir(parents=True, exist_ok=True)
    with JobsCsvWriter(path, **options) as w:
        for records in runs():
            w.write(records)
    return w


def test_below_the_limit_the_file_stays_plain(tmp_path):
    w = write(tmp_path / "jobs.csv", gzip_above=16)
    assert w.path == tmp_path / "jobs.csv" and not w.compressed and w.rows == 16
    assert w.describe() == "one row per job and system (16 rows)"


def test_past_the_limit_every_row_moves_to_a_reproducible_gzip(tmp_path):
    plain = write(tmp_path / "plain" / "jobs.csv")
    packed = [write(tmp_path / f"run{i}" / "jobs.csv", gzip_above=9) for i in range(2)]
    for w in packed:
        assert w.compressed and w.path.name == "jobs.csv.gz" and w.rows == 16
        assert not (w.path.parent / "jobs.csv").exists()
        assert gzip.decompress(w.path.read_bytes()) == plain.path.read_bytes()
    assert packed[0].path.read_bytes() == packed[1].path.read_bytes()
    assert packed[0].describe() == ("one row per job and system, gzip-compressed (16 rows, "
                                    "over the 9 written plain)")


def test_a_sample_is_each_systems_first_jobs_of_the_first_seed(tmp_path):
    w = write(tmp_path / "jobs_sample.csv", sample=3)
    lines = w.path.read_text().splitlines()[1:]
    assert [tuple(line.split(",")[:3]) for line in lines] == [
        (s, "1", str(j)) for s in ("a", "b") for j in range(3)]
    assert w.rows == 6 and w.sample_seed == 1
    assert w.describe().startswith("the first 3 jobs of each system in seed 1 (6 rows")
