"""The benchmarks of the toolkit: one module per benchmark, writing to ``benchmarks/results/``.

Run one as a module from the repository root, e.g. ``python -m benchmarks.ssr_table --help``;
``benchmarks/README.md`` says what each measures. The package is not part of the installed
wheel: it measures the checkout it lives in.
"""

from rationalizer.provenance import code_provenance

# The package's code as a benchmark process starts, which is the code it loaded: its results
# name this, not the checkout as it is when they are written (after a commit made during a
# long run).
code_provenance()
