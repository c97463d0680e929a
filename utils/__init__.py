"""Shared code for *Deep Learning for Image Processing*, an executable textbook.

Every chapter notebook imports from this package; nothing here is copied into a notebook.
Each function's docstring names the chapter that explains it.

Foundation (chapter 1 and the tooling):

- :mod:`utils.env`   -- Colab/GPU detection, seeding, run profiles (QUICK/FULL), fingerprint.
- :mod:`utils.data`  -- CIFAR-10 from the official binary batches, splits, bundled sample photos.
- :mod:`utils.images` -- layouts, scaling, standardization, flips and shifts in NumPy.
- :mod:`utils.plot`  -- figures that read well in the book's light and dark themes.
- :mod:`utils.shapes` -- output-size arithmetic and input checks for the NumPy layers.
- :mod:`utils.book`, :mod:`utils.new_chapter`, :mod:`utils.run_notebooks` -- notebook conventions and runner.

Chapters: :mod:`utils.nn` (2), :mod:`utils.conv` (3), :mod:`utils.pool` (4), :mod:`utils.backprop` (5),
:mod:`utils.losses` (6), :mod:`utils.optim` (7), :mod:`utils.seed_cnn` (8), and :mod:`utils.fast`,
:mod:`utils.fast_backend`, :mod:`utils.fast_distribute`, :mod:`utils.bench` (9).
"""
