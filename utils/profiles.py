"""The run profiles' knobs: QUICK, FULL and FULL-smoke sizes, in one place per chapter.

Chapter 1 ("Images as tensors") explains the profiles. Every chapter's profile cell
calls :func:`by_profile` once and shows :func:`profile_table`; :mod:`utils.env`
re-exports all of them (chapters write ``env.by_profile``), and :func:`smoke_enabled`
says whether CI's FULL-smoke run is shrinking FULL (:mod:`utils.smoke`).
"""

from __future__ import annotations

import os

from .shapes import is_int

PROFILES = ("quick", "full")


SMOKE_VARIABLE = "BOOK_SMOKE"


def smoke_enabled() -> bool:
    """True when the environment variable ``BOOK_SMOKE`` asks for FULL-smoke.

    FULL-smoke (CI's check of the FULL profile without a GPU) runs every chapter's FULL
    code path, architectures, branches and data pipeline, with the tiny sizes each
    chapter declares in its ``smoke`` dict (:func:`by_profile`); outcome claims that
    need real training are then reported, not asserted (:func:`utils.smoke.claim`).
    ``1``, ``true``, ``yes``, ``on`` (any case) turn it on; unset, empty, ``0``,
    ``false``, ``no``, ``off`` leave it off. Chapter 1 explains the profiles.
    Raises ``ValueError`` for any other value.
    """
    value = os.environ.get(SMOKE_VARIABLE, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(
        f"environment variable {SMOKE_VARIABLE} must be 1 or 0 (or unset), got "
        f"{os.environ[SMOKE_VARIABLE]!r}"
    )


class Knobs(dict):
    """The knobs of one run, read as attributes (``P.EPOCHS``) or as a dict.

    Returned by :func:`by_profile`. ``profile`` is ``"quick"`` or ``"full"``,
    ``smoke`` tells whether FULL-smoke shrank the sizes, and ``quick`` / ``full``
    keep both profiles' declared values (for :func:`profile_table`). Setting a knob
    after the profile cell raises ``AttributeError``: the knobs are decided once.
    Chapter 1 explains the profiles; every chapter has one.
    """

    def __init__(self, values, *, profile, smoke, quick, full):
        super().__init__(values)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "smoke", smoke)
        object.__setattr__(self, "quick", dict(quick))
        object.__setattr__(self, "full", dict(full))

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"no knob named {name!r}; this chapter's knobs are {list(self)}"
            ) from None

    def __setattr__(self, name, value):
        raise AttributeError(
            f"knobs are read-only (tried to set {name!r}): change the value in the "
            "chapter's profile cell, or pass it as a papermill parameter"
        )


def by_profile(
    profile: str,
    *,
    quick: dict,
    full: dict,
    smoke: dict | None = None,
    overrides: dict | None = None,
) -> Knobs:
    """The knobs (sizes, epochs, floors) of one run profile, in one place.

    Every chapter decides its QUICK/FULL-dependent values once, in its profile cell::

        P = env.by_profile(
            PROFILE,
            quick=dict(EPOCHS=5, N_TRAIN=6_000),
            full=dict(EPOCHS=30, N_TRAIN=50_000),
            smoke=dict(EPOCHS=1, N_TRAIN=500),
            overrides=dict(EPOCHS=EPOCHS, N_TRAIN=N_TRAIN),
        )
        P.EPOCHS  # 5 in QUICK

    ``profile`` is ``"quick"`` or ``"full"`` (from :func:`resolve_profile`). ``quick``
    and ``full`` map the same knob names, in the same order, to each profile's values
    (ints, floats, tuples, ``None``: anything). ``smoke`` (a dict naming some of the
    knobs) replaces FULL's values when FULL-smoke is on (:func:`smoke_enabled`): it
    shrinks sizes and relaxes outcome thresholds, never the architecture. ``overrides``
    (the chapter's papermill parameters) replaces a value wherever it is not ``None``,
    last. The result is a :class:`Knobs` (a dict, in the order written, readable as
    attributes). Chapter 1 explains the profiles.

    Raises ``ValueError`` for an unknown profile, for ``quick`` and ``full`` with
    different keys or key order, for a ``smoke`` or override key that names no knob,
    for FULL-smoke in a chapter that declares no ``smoke`` sizes, and for
    FULL-smoke asked for with the QUICK profile; ``TypeError`` when ``quick``,
    ``full``, ``smoke`` or ``overrides`` is not a dict.
    """
    if profile not in PROFILES:
        raise ValueError(
            f"profile must be one of {PROFILES} (see env.resolve_profile), "
            f"got {profile!r}"
        )
    overrides = {} if overrides is None else overrides
    for name, value in (
        ("quick", quick),
        ("full", full),
        ("smoke", {} if smoke is None else smoke),
        ("overrides", overrides),
    ):
        if not isinstance(value, dict):
            kind = type(value).__name__
            raise TypeError(f"{name} must be a dict of knob name -> value, got {kind}")
    if list(quick) != list(full):
        raise ValueError(
            "quick and full must name the same knobs in the same order, got "
            f"{list(quick)} and {list(full)}: give every knob a value in both"
        )
    for name, given in (("smoke", smoke or {}), ("overrides", overrides)):
        unknown = [k for k in given if k not in quick]
        if unknown:
            raise ValueError(
                f"{name} {unknown} name no knob; the knobs are {list(quick)}"
            )
    use_smoke = smoke_enabled()
    if use_smoke and profile != "full":
        raise ValueError(
            f"{SMOKE_VARIABLE}=1 shrinks the FULL profile, but the profile is "
            f"{profile!r}: also set BOOK_MODE=full (or unset {SMOKE_VARIABLE})"
        )
    if use_smoke and smoke is None:
        raise ValueError(
            f"{SMOKE_VARIABLE}=1 but this chapter declares no smoke sizes: give "
            "by_profile a smoke=dict(...) that shrinks FULL's sizes"
        )
    chosen = dict(quick if profile == "quick" else full)
    if use_smoke:
        chosen.update(smoke)
    chosen.update({k: v for k, v in overrides.items() if v is not None})
    return Knobs(chosen, profile=profile, smoke=use_smoke, quick=quick, full=full)


def _knob_text(value) -> str:
    if value is None:
        return "all"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if is_int(value) and abs(value) >= 1_000:
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class ProfileTable:
    """What a chapter runs in each profile, shown under its (collapsed) profile cell.

    Made by :func:`profile_table`; displays as a Markdown table in the notebook and the
    HTML book, and as plain text elsewhere (the same text nbval compares). Chapter 1
    explains the profiles.
    """

    def __init__(self, rows, header, footer):
        self.rows, self.header, self.footer = rows, header, footer

    def _repr_markdown_(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |"]
        lines.append("|" + "---|" * len(self.header))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines) + ("\n\n" + self.footer if self.footer else "")

    def __repr__(self) -> str:
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) for i in range(3)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
            for r in [self.header, *self.rows]
        ]
        return "\n".join(lines) + ("\n" + self.footer if self.footer else "")


def profile_table(
    knobs: Knobs,
    *,
    labels: dict,
    full_t4_minutes,
    basis: str,
    quick_time: str = "about a minute on 2 CPU cores",
):
    """A small table of what QUICK and FULL run, for the top of a chapter.

    ``knobs`` is the :class:`Knobs` from :func:`by_profile`; ``labels`` maps the knobs
    worth showing to words (``{"EPOCHS": "epochs", "N_TRAIN": "training images"}``),
    in the order shown; ``full_t4_minutes`` is FULL's expected wall time on a free
    Colab T4 in minutes (a number, or a ``(low, high)`` pair) and ``basis`` says in a
    few words where that estimate comes from (e.g. "MACs x images / measured T4
    throughput"). The row "this page" marks the profile that ran. Chapter 1 explains
    the profiles.

    Raises ``TypeError`` when ``knobs`` is not a :class:`Knobs`, ``ValueError`` for a
    label naming no knob, an empty ``labels``, a non-positive time or an empty basis.
    """
    if not isinstance(knobs, Knobs):
        raise TypeError(
            f"knobs must be what env.by_profile returns, got {type(knobs).__name__}"
        )
    if not labels:
        raise ValueError("labels must name at least one knob to show")
    unknown = [k for k in labels if k not in knobs.quick]
    if unknown:
        raise ValueError(
            f"labels {unknown} name no knob; the knobs are {list(knobs.quick)}"
        )
    minutes = (
        tuple(full_t4_minutes)
        if isinstance(full_t4_minutes, (tuple, list))
        else (full_t4_minutes,)
    )
    if not minutes or not all(
        isinstance(m, (int, float)) and not isinstance(m, bool) and m > 0
        for m in minutes
    ):
        raise ValueError(
            "full_t4_minutes must be a positive number of minutes or a (low, high) "
            f"pair, got {full_t4_minutes!r}"
        )
    if not isinstance(basis, str) or not basis.strip():
        raise ValueError("basis must say in words where the T4 estimate comes from")
    rows = [
        [text, _knob_text(knobs.quick[k]), _knob_text(knobs.full[k])]
        for k, text in labels.items()
    ]
    t4 = "-".join(f"{m:g}" for m in minutes)
    rows.append(["time", quick_time, f"about {t4} min on a T4"])
    ran = "FULL-smoke" if knobs.smoke else knobs.profile.upper()
    header = ["", "QUICK", "FULL"]
    footer = (
        f"This page ran {ran}. FULL's time is an estimate ({basis.strip()}); "
        "the recorded runs at the end of the chapter give measured times."
    )
    return ProfileTable(rows, header, footer)
