"""Shared code for *Deep Learning for Image Processing*, an executable textbook.

Every chapter notebook imports from this package; nothing here is copied into a
notebook. Modules:

- :mod:`utils.env`   -- Colab/GPU detection, seeding, run profiles (QUICK/FULL), fingerprint.
- :mod:`utils.data`  -- CIFAR-10 from the official binary batches, and bundled sample photos.
- :mod:`utils.plot`  -- figures that read well in the book's light and dark themes.
- :mod:`utils.run_notebooks` -- re-executes chapters with papermill.

Each function's docstring names the chapter that explains it.
"""

__all__ = ["env", "data", "plot"]
