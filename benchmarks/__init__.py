"""Benchmarks that compare the book's code with the work it re-implements.

Chapter 10 (fast CIFAR-10 training) ports Keller Jordan's airbench94
(github.com/KellerJordan/cifar10-airbench, arXiv:2404.00498) to Keras 3. This package
runs the port and the published original side by side:

- :mod:`benchmarks.airbench_cpu`: a small adapter that runs the PyPI ``airbench`` 0.1.8
  package as published on a GPU, and on a CPU with its CUDA-only calls redirected; it
  also writes airbench's data files from the book's CIFAR-10 copy;
- :mod:`benchmarks.vs_airbench`: the command line, ``python -m benchmarks.vs_airbench``,
  alternating runs of both sides, each in its own process, with the ratios.

They need PyTorch and airbench (``pip install -r requirements-bench.txt``), which the
chapters never import. Importing this package imports neither TensorFlow nor PyTorch.
"""
