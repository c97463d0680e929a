"""Shared code for *Deep Learning for Image Processing*, an executable textbook.

Every chapter notebook imports from this package; nothing here is copied into a notebook.
Each function's docstring names the chapter that explains it.

Foundation (chapter 1 and the tooling):

- :mod:`utils.env`   -- Colab/GPU detection, seeding, run profiles (QUICK/FULL), fingerprint.
- :mod:`utils.data`  -- CIFAR-10 from the official binary batches, splits, bundled sample photos.
- :mod:`utils.images` -- layouts, scaling, standardization, flips and shifts in NumPy.
- :mod:`utils.plot`  -- figures that read well in the book's light and dark themes.
- :mod:`utils.shapes` -- output-size arithmetic and input checks for the NumPy layers.
Maintainer tools (notebook conventions, new chapters, the runner) live apart, in :mod:`tools`.

Chapters: :mod:`utils.nn` (2), :mod:`utils.conv` (3), :mod:`utils.pool` (4), :mod:`utils.backprop` (5),
:mod:`utils.losses` (6), :mod:`utils.optim` (7), :mod:`utils.first_cnn` (8), and :mod:`utils.fast`,
:mod:`utils.fast_backend`, :mod:`utils.fast_distribute`, :mod:`utils.bench` (9).
"""
