"""benchmarks/common.py: the command a result records is the one a user types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
    named = machine | {"cpu": "AMD EPYC, family 25 model 17", "cpu_features": ["avx512_bf16"]}
    lines = common.machine_and_code_lines({"machine": named | result["machine"]}, ("torch",))
    assert lines[0].startswith("Machine: Linux, AMD EPYC, family 25 model 17 (avx512_bf16), 4 CPUs")
    assert common.cpu_text(named | {"cpu_features": []}) == "AMD EPYC, family 25 model 17"


def test_other_load_is_the_machines_busy_time_less_this_processs_own():
    start = common.CpuSnapshot(machine_busy=100.0, own=10.0, wall=0.0)
    # 4 s of wall clock: the machine was busy 9 CPU-seconds, 3 of them this process's
    end = common.CpuSnapshot(machine_busy=109.0, own=13.0, wall=4.0)
    assert common.other_busy_cpus(start, end) == 1.5
    unknown = common.CpuSnapshot(machine_busy=None, own=13.0, wall=4.0)
    assert common.other_busy_cpus(start, unknown) is None
    # rounding of the machine's ticks below this process's own time is no negative load
    assert common.other_busy_cpus(start, common.CpuSnapshot(102.0, 13.0, 4.0)) == 0.0


def test_a_snapshot_counts_this_processs_cpu_time():
    before = common.cpu_snapshot()
    sum(i * i for i in range(2_000_000))  # well over the 10 ms tick of os.times
    after = common.cpu_snapshot()
    assert after.own > before.own and after.wall > before.wall
    if before.machine_busy is not None:  # Linux: the machine's busy time includes ours
        assert after.machine_busy >= before.machine_busy


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree in /proc")
def test_a_snapshot_counts_the_cpu_time_of_the_processes_a_benchmark_started():
    """A server the benchmark runs in a child process is its own load, not other load."""
    spin = (
        "import sys, time\n"
        "while time.process_time() < 0.5: pass\n"
        "print(time.process_time(), flush=True)\n"
        "sys.stdin.readline()\n"  # stay alive until the snapshot is taken
    )
    before = common.cpu_snapshot()
    child = subprocess.Popen(
        [sys.executable, "-c", spin], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        child_seconds = float(child.stdout.readline())
        after = common.cpu_snapshot()
    finally:
        child.communicate("\n")
    # the child is alive, so os.times() has not counted it: only the /proc walk can
    assert after.own - before.own >= child_seconds - 0.02


def test_the_load_sentence_says_idle_shared_or_unknown():
    assert "otherwise idle" in common.load_sentence(0.03, 2)
    assert "**shared**" in common.load_sentence(1.4, 2) and "1.4 of its 2" in common.load_sentence(
        1.4, 2
    )
    assert "not measured" in common.load_sentence(None, 2)


def test_a_benchmark_process_takes_the_codes_provenance_as_it_starts():
    """Importing the benchmarks package fills the provenance cache, so a record written hours
    later names the code the process loaded, not a later checkout."""
    check = (
        "import benchmarks, rationalizer.provenance as p; "
        "print(p._code_provenance.cache_info().currsize)"
    )
    root = Path(common.__file__).resolve().parent.parent
    shown = subprocess.run(
        [sys.executable, "-c", check], cwd=root, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "1"
