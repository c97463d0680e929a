"""Teaching code of *Deep Learning for Image Processing*, an executable textbook.

Every chapter notebook imports from this package; nothing here is copied into a
notebook, and a chapter shows the source of what it teaches with
:func:`utils.source.show`. Each function's docstring names the chapter that explains it.
One module per idea:

- Foundation: :mod:`utils.env` (where a notebook runs, seeding, QUICK/FULL profiles and
  ``by_profile``), :mod:`utils.data` and :mod:`utils.cifar_download` (CIFAR-10),
  :mod:`utils.images` (layouts, scaling, flips, the one image shift), :mod:`utils.plot`,
  :mod:`utils.shapes` (shape arithmetic, the float policy),
  :mod:`utils.contracts` (the shared input checks, re-exported by ``shapes``),
  :mod:`utils.source` (showing taught code in a chapter).
- Chapter 2: :mod:`utils.nn` (neurons, activations, the one softmax and sigmoid).
- Chapter 3: :mod:`utils.conv`, :mod:`utils.layer_cost` (parameters, MACs, receptive
  field).
- Chapter 4: :mod:`utils.pool`.
- Chapter 5: :mod:`utils.backprop`, :mod:`utils.gradcheck`, :mod:`utils.grad_flow`.
- Chapter 6: :mod:`utils.losses`, :mod:`utils.labels`, :mod:`utils.ce_pitfalls`,
  :mod:`utils.logits` (does a model end in logits or probabilities?).
- Chapter 7: :mod:`utils.optim`, :mod:`utils.schedules`, :mod:`utils.landscapes`.
- Chapter 8: :mod:`utils.first_cnn`.
- Chapter 9: :mod:`utils.normalization`, :mod:`utils.residual`,
  :mod:`utils.regularization`.
- Chapter 10: :mod:`utils.fast`, a subpackage (recipe, model, augment, update, trainer,
  outcome, backend, distribute, records, and the benchmark CLI
  ``python -m utils.fast.bench``).
- Chapter 11: :mod:`utils.transfer`. Chapter 12: :mod:`utils.attribution`,
  :mod:`utils.ranks`, :mod:`utils.calibration`. Chapter 13: :mod:`utils.seg_data`,
  :mod:`utils.segmentation`,
  :mod:`utils.unet`. Chapter 14: :mod:`utils.det_data`, :mod:`utils.voc`,
  :mod:`utils.boxes`, :mod:`utils.detection_metrics`. Chapter 15: :mod:`utils.vae`,
  :mod:`utils.gan`, :mod:`utils.diffusion`, :mod:`utils.sample_quality`.
- Diagrams: :mod:`utils.diagrams` (chapters 1-2), :mod:`utils.diagrams_conv` (chapters
  3-4, 10), :mod:`utils.diagrams_graph` (chapter 5's computational graph),
  :mod:`utils.diagrams_dense` (chapters 13-14). Every chapter:
  :mod:`utils.glue` (numbers in the prose), :mod:`utils.runs` (its recorded QUICK/FULL
  runs).

Maintainer tools (notebook conventions, new chapters, the runner) live apart, in
``tools``.
"""
