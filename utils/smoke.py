"""Outcome claims, and what FULL-smoke leaves unchecked.

A chapter's asserts come in two kinds. *Structural* checks (shapes, NumPy equal to
Keras, a gradient check, a round trip) hold at any size and stay plain ``assert``.
*Outcome claims* ("the ResNet beats the plain network", "test accuracy above the
floor") hold only after the training the profile does. Chapters write those as::

    smoke.claim("09/resnet-beats-plain", resnet_acc > plain_acc, f"{resnet_acc=}")

and every claim is declared once, here, in :data:`CLAIMS`. In QUICK and FULL a claim
is an assert. Under FULL-smoke (``BOOK_MODE=full BOOK_SMOKE=1``: FULL's code paths
with tiny sizes, run by CI; chapter 1 explains the profiles) the condition is still
evaluated, so a name or shape error still surfaces, but a claim that does not hold is
reported, not raised, in one line that starts with :data:`SKIP_MARK`; the runner
(``python -m tools.run_notebooks --full --smoke``) counts those lines against this
registry.
"""

from __future__ import annotations

import re

from . import env

SKIP_MARK = "[FULL-smoke] claim not checked at this scale:"
NAME = re.compile(r"(\d\d)/[a-z0-9][a-z0-9-]*")

#: Every outcome claim of the book: "chapter number/short name" -> what it says.
CLAIMS: dict[str, str] = {
    # 01 images as tensors
    "01/raw-bytes-diverge": "SGD on raw 0-255 pixels ends with a loss above 1,000",
    "01/standardized-learns-faster": "standardized pixels: lower training loss than "
    "[0, 1] pixels after every epoch, higher validation accuracy after the first",
    "01/standardized-not-worse": "standardized pixels end at most 0.01 below [0, 1] "
    "pixels' validation accuracy, and [0, 1] pixels above 0.15",
    # 02 neural-network basics
    "02/mlp-accuracy-range": "the CIFAR-10 MLP's test accuracy lies within ACC_RANGE",
    "02/mlp-overfits": "the CIFAR-10 MLP's training accuracy ends 0.05 above its best "
    "validation accuracy; its validation loss turned upwards 3+ epochs before the end",
    "02/cifar-shift-hurts": "shifting CIFAR-10 test images by 2 px costs the MLP 0.02 "
    "of accuracy, and 4 px costs more",
    # 03 convolution
    "03/cnn-beats-floor": "the small CNN's test accuracy beats ACC_FLOOR",
    "03/cnn-loss-falls": "the small CNN's training loss ends below its first epoch's",
    "03/filters-move": "training moves conv1's filters by over 0.2 of their norm",
    # 04 pooling
    "04/both-downsamplers-learn": "the seed network with max pools and with strided "
    "convolutions both beat ACC_FLOOR on the test set",
    "04/pool-and-conv-close": "the two downsampling variants' test accuracies lie "
    "within 0.08 of each other",
    # 05 backpropagation
    "05/loss-falls": "the NumPy CNN's training loss falls every epoch, by 0.2 in all",
    "05/beats-chance": "the NumPy CNN's validation and test accuracy beat ACC_FLOOR",
    # 06 loss functions
    "06/fixed-above-floor": "the seed CNN with a logits head and from_logits=True "
    "reaches a best test accuracy above ACC_FLOOR",
    "06/double-softmax-learns-less": "the double-softmax run's best test accuracy "
    "trails the fixed run's by more than ACC_GAP",
    "06/double-softmax-worse-ce": "the double-softmax run ends with a test "
    "cross-entropy more than CE_RATIO times the fixed run's",
    # 07 optimizers
    "07/all-beat-chance": "the small CNN ends above ACC_FLOOR test accuracy with each "
    "of the six optimizers",
    "07/all-below-sgd-loss": "after equal steps, momentum, Nesterov, RMSprop, Adam and "
    "AdamW end with a lower training loss than plain SGD",
    "07/adam-beats-sgd": "the better of Adam and AdamW ends with a higher test "
    "accuracy than plain SGD",
    # 08 a first CIFAR-10 CNN
    "08/val-above-floor": "the seed CNN's best validation accuracy is above ACC_FLOOR",
    "08/loss-falls": "the seed CNN's training loss ends below its first epoch's",
    "08/fits-training-better": "the seed CNN's accuracy on clean training images is "
    "above its last validation accuracy",
    "08/test-above-floor": "the best checkpoint's test accuracy reaches ACC_FLOOR",
    "08/val-predicts-test": "the best validation accuracy is within 0.03 of the test "
    "accuracy",
    "08/classes-differ": "the per-class test accuracies span more than 0.15",
    "08/animals-harder": "the weakest class is an animal, cats are below the median "
    "class, and animals trail vehicles by more than 0.05",
    "08/confident-mistake": "the surest wrong test prediction has a probability above "
    "0.9",
    # 09 normalization, residual connections, regularization
    "09/bn-trains-faster": "in the learning-rate sweep the plain CNN with batch norm "
    "reaches a best final loss 0.05 below the best without it",
    "09/bn-tolerates-high-rate": "at the sweep's largest rate the CNN with batch norm "
    "ends 0.05 below the one without (a diverged run counts as infinite loss)",
    "09/deeper-plain-trains-worse": "the deep plain network ends with a training loss "
    "0.03 above the shallow plain network's",
    "09/shortcuts-fix-depth": "the ResNet ends with a training loss 0.03 below the "
    "plain network of the same depth",
    "09/resnet-accuracy-floor": "the deep ResNet's test accuracy reaches ACC_FLOOR",
    "09/dropout-shrinks-gap": "on little data dropout shrinks the train-validation "
    "accuracy gap by 0.05",
    "09/l2-shrinks-gap": "on little data an L2 penalty shrinks the train-validation "
    "accuracy gap by 0.05",
    # 10 fast CIFAR-10 training
    "10/main-accuracy-floor": "the main runs' mean test accuracy (6-view TTA) reaches "
    "ACC_FLOOR on the official files, ACC_FLOOR_JPEG on the book's JPEG copy",
    "10/tta-does-not-hurt": "6-view TTA loses at most one point of accuracy against "
    "one view, on the same weights (QUICK's weak network on 2,000 test images moves "
    "by about that between machines)",
    "10/ablation-learns": "the ablation's narrow network, with and without the "
    "training tricks, beats 25% test accuracy (chance 10%)",
    # 11 learning from little data
    "11/pretraining-learns": "the CNN pretrained on the source classes scores above "
    "0.25 on their test images (chance 0.2)",
    "11/probe-curve-rises": "the linear probe's test accuracy is higher at the largest "
    "label count than at the smallest, and above 0.3 at every count",
    "11/transfer-above-floor": "at 10 labels per class the probe and fine-tuning on "
    "the pretrained CNN both reach ACC_FLOOR",
    "11/transfer-beats-scratch": "at 10 labels per class the better transfer method "
    "beats training from scratch",
    "11/scratch-learns": "the CNN trained from scratch scores above 0.25 on average at "
    "10 labels per class (chance 0.2), and higher at the largest label count",
    "11/pretraining-beats-random": "a probe on random CNN features beats chance "
    "(0.2), and the probe on the pretrained features beats it (10 labels per class)",
    # 12 interpretability and calibration
    "12/accuracy-above-floor": "the seed CNN's test accuracy beats ACC_FLOOR",
    "12/ig-complete": "integrated gradients: median completeness error below 5% "
    "at STEPS points, every image within 5% after refining up to 8 x STEPS",
    "12/ig-few-points-worse": "integrated gradients: the median completeness error "
    "with 4 points is over twice that with STEPS points",
    "12/signed-maps-change": "randomizing the logits layer brings the signed "
    "gradient's and signed IG's mean rank correlation with the trained maps below 0.3 "
    "in magnitude, and two different images' trained maps correlate below 0.3 too",
    "12/magnitude-maps-stay": "the magnitude maps keep a rank correlation above 0.4 "
    "at every cascade stage, ending no lower than two different images' maps minus "
    "0.25",
    "12/grad-cam-changes": "averaged over the cascade, Grad-CAM's rank correlation "
    "with its trained map is below 0.5",
    "12/over-confident": "the temperature fitted on the validation split is above 1",
    "12/temperature-not-worse": "temperature scaling does not raise the test NLL, nor "
    "the test ECE by more than two bootstrap standard deviations",
    "12/conv1-changes-gradient": "randomizing conv1 alone brings the signed gradient's "
    "mean rank correlation with the trained map below 0.6",
    "12/conv1-changes-grad-cam": "randomizing conv1 alone brings Grad-CAM's mean rank "
    "correlation with the trained map below 0.6",
    "12/baseline-matters": "the blurred and the black baseline give IG maps with a "
    "rank correlation below 0.8",
    "12/smoothgrad-changes": "randomizing the logits layer brings the signed "
    "SmoothGrad map's mean rank correlation below 0.3 in magnitude",
    # 13 segmentation
    "13/loss-falls": "the U-Net's training loss on the composite set ends below 0.8 "
    "times its first epoch's",
    "13/miou-above-floor": "the U-Net's test mean IoU on the composite set exceeds "
    "IOU_FLOOR and the all-background answer's by 0.15",
    "13/pets-beats-background": "on Oxford-IIIT Pet the U-Net's test mean IoU (border "
    "pixels not scored) beats answering background everywhere by 0.1",
    # 14 object detection
    "14/loss-falls": "the detector's training loss ends below 0.7 times its first "
    "epoch's",
    "14/map-above-floor": "the detector's test mAP@0.5 exceeds MAP_FLOOR",
    "14/beats-random": "test mAP@0.5 is over ten times the random-box baseline's, "
    "which stays below 0.05",
    "14/class-confusion-costs": "class-agnostic AP@0.5 exceeds the per-class mAP@0.5",
    # 15 generative models
    "15/classifier-floor": "the feature classifier's test accuracy reaches ACC_FLOOR",
    "15/noise-far-from-real": "noise images sit over 5 times farther (Frechet) from "
    "the test images than real training images, whose class spread exceeds 0.9",
    "15/vae-learns": "the VAE's -ELBO on training batches ends below its first epoch's",
    "15/vae-beats-uniform": "the VAE's test -ELBO is below log2(levels) bits per "
    "dimension, the cost of a uniform distribution over the grey levels",
    "15/vae-prior-beats-autoencoder": "decoded prior codes: the VAE's samples are "
    "closer (Frechet) to the test images than the plain autoencoder's",
    "15/probe-rejects-fakes": "after STEPS_PROBE steps the probe discriminator gives "
    "the untrained generator's images D(G(z)) below 0.2 on average",
    "15/ddpm-loss-falls": "the denoiser's L_simple ends below 0.7 times its first "
    "epoch's",
    "15/models-beat-noise": "the VAE's, GAN's and DDPM's samples are all closer "
    "(Frechet) to the test images than noise images are",
    "15/noise-looks-confident": "the feature classifier's mean top probability on "
    "uniform noise images exceeds 2 / classes",
    "15/no-copies": "no sample of any model is a copy of a training image: its "
    "feature distance to the nearest one exceeds 0.01 of the test images' median",
    "15/fd-bias-shrinks": "the Frechet distance between two halves of the test images "
    "is positive and larger at 30 images than at half the test set",
    "15/collapse-is-detected": "the best-recognised class of real test images: class "
    "spread 0.3 below the real images', Frechet distance over 10 times theirs",
    "15/collapse-keeps-confidence": "the best-recognised class of real test images: "
    "mean confidence above the real training images' minus 0.1",
    "15/beta-vae-smaller-kl": "a VAE trained with beta = 4 ends with a smaller test KL "
    "term than the VAE",
    "15/beta-vae-worse-reconstruction": "a VAE trained with beta = 4 ends with a "
    "larger test reconstruction term than the VAE",
    # 16 small and fast networks
    "16/both-learn": "the base network and its separable twin beat ACC_FLOOR",
    "16/per-channel-smaller-error": "for every trained kernel, at 8 and 4 bits, per-"
    "channel quantization's mean error is at most per-tensor quantization's",
    "16/int8-keeps-accuracy": "int8 weights per channel change the test accuracy by at "
    "most 0.02",
    "16/separable-time-above-macs": "the separable network's share of the base "
    "network's time (fastest, batch 64) exceeds its share of the MACs",
    "16/unstructured-sparsity-costs": "25% magnitude pruning costs at most 0.05 of "
    "accuracy; at 90% under half the base network's lead over chance (0.1) is left",
    "16/tuning-recovers-channels": "the channel-pruned network scores higher after "
    "fine-tuning than before",
    "16/channels-cost-more": "before fine-tuning, removing half the channels costs "
    "more accuracy than zeroing half the weights",
    "16/thin-is-faster": "the thin network's share of the base network's time "
    "(fastest, batch 64) is below 1 and above its share of the MACs",
    "16/students-learn": "every student run, alone or distilled, beats ACC_FLOOR",
    "16/distillation-not-worse": "the distilled students' mean accuracy is below the "
    "students trained alone by less than max(0.02, twice the seed std)",
    "16/bf16-keeps-accuracy": "the bfloat16 copy of the base network scores within "
    "0.02 of float32",
    # 17 automatic learning
    "17/floor-beats-chance": "the base CNN's mean validation accuracy over seeds "
    "exceeds 0.13",
    "17/random-beats-grid-toy": "on the synthetic objective, 32 random trials beat a "
    "2^5 grid's best in over 80% of seeds",
    "17/halving-beats-random-toy": "on the synthetic objective, successive halving's "
    "winners beat random search's (median) at about the same budget",
    "17/ours-matches-library": "our successive halving and scikit-learn's "
    "HalvingRandomSearchCV give winners within 0.05 test accuracy (mean over seeds)",
    "17/cnn-searches-learn": "every CNN search's winner exceeds 0.13 validation "
    "accuracy",
    "17/range-test-turns": "the range test's smoothed loss is lowest before its last "
    "three steps (the loss turns up at large learning rates)",
}


def claims_of(chapter: str) -> dict:
    """The claims of one chapter (``"09"`` or a notebook stem ``"09_..."``), a dict.

    Every chapter's outcome claims; chapter 1 explains the profiles and FULL-smoke.
    """
    number = str(chapter)[:2]
    return {k: v for k, v in CLAIMS.items() if k.startswith(number + "/")}


def claim(name: str, holds, detail: str = "") -> None:
    """Assert the outcome claim ``name``, unless FULL-smoke is on.

    ``name`` is a key of :data:`CLAIMS` (``"NN/short-name"``); ``holds`` is the
    condition, a Python or NumPy bool already evaluated; ``detail`` (str) is added to
    the failure message (put the measured values there). Under FULL-smoke one line
    starting with :data:`SKIP_MARK` is printed instead of checking. Chapter 1 explains
    claims and profiles.

    Raises ``KeyError`` for a name not declared in :data:`CLAIMS`, ``TypeError`` when
    ``holds`` is not a bool (a tuple or array is almost always a mistake), and
    ``AssertionError`` when the claim does not hold outside FULL-smoke.
    """
    if name not in CLAIMS:
        raise KeyError(
            f"claim {name!r} is not declared: add it with a one-line description "
            "to CLAIMS in utils/smoke.py"
        )
    if type(holds).__name__ not in ("bool", "bool_"):
        raise TypeError(
            f"claim {name!r}: holds must be a bool (a comparison), got "
            f"{type(holds).__name__} {holds!r}"
        )
    if env.smoke_enabled():
        verdict = "holds" if holds else "does not hold"
        print(f"{SKIP_MARK} {name} ({verdict} at smoke size): {CLAIMS[name]}")
        return
    if not holds:
        message = f"claim {name} does not hold: {CLAIMS[name]}"
        raise AssertionError(message + (f" ({detail})" if detail else ""))
