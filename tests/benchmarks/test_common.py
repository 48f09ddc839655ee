"""benchmarks/common.py: the command a result records is the one a user types."""

from __future__ import annotations

from benchmarks import common, ssr_table


def test_the_recorded_command_runs_the_benchmark_as_a_module_with_its_arguments():
    command = common.command_line(ssr_table.SCRIPT, ["--seeds", "0", "--note", "two words"])
    assert command == "python -m benchmarks.ssr_table --seeds 0 --note 'two words'"
    assert common.module_command(ssr_table.__file__) == "python -m benchmarks.ssr_table"


def test_the_footer_names_the_libraries_asked_for_and_the_code():
    machine = {"platform": "Linux", "processor": "x86_64", "cpu_count": 4, "usable_cpus": 2}
    result = {"machine": machine | {"python": "3.11", "torch": "2.x"}, "provenance": None}
    lines = common.machine_and_code_lines(result, ("torch",))
    assert lines[0] == "Machine: Linux, x86_64, 4 CPUs (2 usable); Python 3.11, torch 2.x."
    assert lines[2] == "Code: not recorded (made before provenance was recorded)."
