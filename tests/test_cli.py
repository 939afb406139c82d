"""The command line: every DESIGN §6 subcommand exists with its own help; `info`
reproduces the published MAC totals; bad input exits 2 with one line."""

import subprocess
import sys

import pytest

from testbed.cli import COMMANDS, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in ("run", "train", "export", "profile", "trace", "sweep", "info", "inspect"):
        assert name in out


@pytest.mark.parametrize("name", COMMANDS)
def test_each_subcommand_has_its_own_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    assert "usage: testbed " + name in capsys.readouterr().out


@pytest.mark.parametrize("args,total", [
    (["lenet3c1l"], "10,570,944"), (["lenet5"], "651,720"),
    (["vgg16", "--classes", "100"], "313,247,744")])
def test_info_reproduces_published_macs(args, total, capsys):
    assert main(["info"] + args) == 0
    assert f"total MACs: {total}" in capsys.readouterr().out


def test_info_width_scales_units(capsys):
    main(["info", "lenet3c1l", "--width", "1.8"])
    out = capsys.readouterr().out
    assert " 58 " in out.splitlines()[1]


def test_bad_input_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, "-m", "testbed", "info", "resnet"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "lenet3c1l" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_each_subcommand_help_shows_examples(name, capsys):
    """Every subcommand's --help ends with examples, and no argparse escape shows."""
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "example" in out.lower() and f"testbed {name} " in out.split("example", 1)[1]
    assert "%%" not in out


def test_top_level_help_shows_examples_and_no_escapes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "examples" in out and "%%" not in out and "% of original MACs" in out


def test_device_and_executor_are_documented(capsys):
    for argv, words in ((["train", "--help"], ("cuda", "cpu (default)")),
                        (["sweep", "--help"], ("process pool", "Dask", ".[dask]"))):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())
        assert all(w in text for w in words), (argv, text)


def test_a_reader_that_goes_away_ends_the_command_quietly(monkeypatch, capsys):
    """`testbed ... | head`: stdout's reader closes early; no traceback, exit 141 (as a
    shell reports SIGPIPE)."""
    import testbed.commands.info as info
    from testbed.cli import main

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr(info, "run", closed)
    assert main(["info", "lenet5"]) == 141
    assert "Traceback" not in capsys.readouterr().err
