"""``rnnkit bench``: the seed model's training step and inference, rnnkit against PyTorch's
``nn.LSTM`` (default and expert-tuned), each peer in its own process, on this machine.

* :mod:`rnnkit.bench.runner`: the parent (:class:`~rnnkit.bench.runner.Settings`,
  :func:`~rnnkit.bench.runner.run`): rounds, medians, the table with ratios, the JSON report;
* :mod:`rnnkit.bench.seed`: the children (one per peer, thread count and round) and the
  token ids they read (IMDb, synthetic, uniform);
* :mod:`rnnkit._cpu`: the CPU's name and vector extensions from ``/proc/cpuinfo``;
* :mod:`rnnkit.bench._proc`: child processes, timing and tables (standard library only; the
  scripts in ``benchmarks/`` use it too, through ``benchmarks/_peers.py``).

Importing this package imports nothing heavy (no torch), so that the Keras venv's Python can
use :mod:`rnnkit.bench._proc`.
"""
