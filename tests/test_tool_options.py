"""The tools under scripts/ parse as the three scripts do: a bad argument is one line and exit status 2,
and every numeric option has a declared range (utils.cli.number)."""

import importlib
import sys

import pytest
from conftest import ROOT
from test_option_guard import outside, parser_of

sys.path.insert(0, str(ROOT / "scripts"))
TOOLS = sorted(p.stem for p in (ROOT / "scripts").glob("*.py") if "def main(" in p.read_text())


def test_the_tools_are_found():
    assert {"benchmark", "ddp_scaling", "export_weights", "gpu_check", "make_figures"} <= set(TOOLS)


@pytest.mark.parametrize("tool", TOOLS)
def test_a_bad_argument_to_a_tool_is_one_line(tool, capsys):
    parser = parser_of(importlib.import_module(tool).main)
    bad = [["--no_such_option"]]
    for action in parser._actions:
        if action.type in (int, float):
            pytest.fail(f"scripts/{tool}.py {action.option_strings[0]}: give it a range (utils.cli.number)")
        if hasattr(action.type, "bounds") and action.option_strings:
            bad.append([action.option_strings[0], outside(action.type)])
    for argv in bad:
        with pytest.raises(SystemExit) as stop:
            parser.parse_args(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and err.count("\n") == 1 and err.startswith("error: "), (argv, err)
