"""`testbed run` argument validation: everything is checked before anything is written."""

import pytest

from testbed.cli import build_parser
from testbed.commands.run import _check_numbers, live_root, command_line, parse_deadlines
from testbed.errors import TestbedError


def args(*argv):
    return build_parser().parse_args(["run", "s.yaml", *argv])


def test_parse_deadlines():
    assert parse_deadlines(None) == ()
    assert parse_deadlines("40, 10,20.5") == (10.0, 20.5, 40.0)


@pytest.mark.parametrize("text", ["", "10,,20", "10,abc", "-5", "0", "nan", "inf", "10,10"])
def test_bad_deadlines_are_one_clear_error(text):
    with pytest.raises(TestbedError, match="--deadlines"):
        parse_deadlines(text)


@pytest.mark.parametrize("argv,flag", [(["--seeds", "0"], "--seeds"),
                                       (["--duration", "-1"], "--duration"),
                                       (["--duration", "nan"], "--duration"),
                                       (["--trace", "/no/such.csv"], "--trace")])
def test_bad_numbers_and_missing_trace(argv, flag):
    with pytest.raises(TestbedError, match=flag):
        _check_numbers(args(*argv))


def test_live_needs_an_existing_data_root(tmp_path, monkeypatch):
    monkeypatch.delenv("TESTBED_DATA", raising=False)
    assert live_root(args()) is None
    with pytest.raises(TestbedError, match="--data-root DIR or \\$TESTBED_DATA"):
        live_root(args("--live"))
    with pytest.raises(TestbedError, match="not found"):
        live_root(args("--live", "--data-root", str(tmp_path / "missing")))
    with pytest.raises(TestbedError, match="only meaningful with --live"):
        live_root(args("--data-root", str(tmp_path)))
    assert live_root(args("--live", "--data-root", str(tmp_path))) == str(tmp_path)
    monkeypatch.setenv("TESTBED_DATA", str(tmp_path))
    assert live_root(args("--live")) == str(tmp_path)


def test_command_line_is_canonical():
    assert command_line(args()) == "testbed run s.yaml"
    assert (command_line(args("--seeds", "3", "--deadlines", "10,20", "--seed", "4"))
            == "testbed run s.yaml --seed 4 --deadlines 10,20 --seeds 3")
