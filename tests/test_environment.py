"""The machine a result was measured on: its CPU model and numeric instruction sets."""

from __future__ import annotations

from pathlib import Path

from rationalizer._environment import cpu_description, machine_info

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni

processor\t: 1
model name\t: another model
flags\t\t: fpu amx_bf16
"""

ARM = """processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd sve crc32
CPU part\t: 0xd40
"""


def test_the_cpu_is_named_with_its_family_and_the_numeric_instruction_sets_it_has(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(X86)
    # the first processor's block only: amx_bf16 and the other model name are the second's
    assert cpu_description(cpuinfo) == (
        "AMD EPYC, family 25 model 17",
        ["avx2", "avx512f", "avx512_bf16"],
    )


def test_arm_features_are_read_though_arm_names_no_model(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(ARM)
    assert cpu_description(cpuinfo) == (None, ["sve", "asimd"])


def test_a_machine_without_cpuinfo_still_describes_itself(tmp_path):
    assert cpu_description(tmp_path / "missing") == (None, [])
    info = machine_info()
    assert {"platform", "processor", "cpu", "cpu_features", "cpu_count", "torch"} <= set(info)
    if Path("/proc/cpuinfo").exists():
        assert info["cpu_features"] == cpu_description()[1]
