"""Paired comparison of two methods with the subject as the unit, and the status of a claim.

Trials of one subject are not independent: they share the subject's body, motor control and
the one model each method fitted to that subject. So the unit of every test here is the
subject:

1. Each method's score of a subject is one number (the mean over seeds where a method was run
   with several).
2. The effect is the mean over subjects of the paired difference (method A minus method B),
   with a percentile bootstrap confidence interval over subjects (:func:`bootstrap_ci`).
3. The test is an exact permutation test with subjects as blocks (:func:`sign_flip_test`):
   under "no difference between the methods", swapping the two methods' labels for every
   trial of a subject at once leaves the data as likely, so the null distribution is that of
   the mean difference under all ``2**n`` sign patterns of the subjects' differences. No
   normality is assumed; the price is that with ``n`` subjects no two-sided p can fall below
   ``2 / 2**n`` (:func:`smallest_p`): 0.0625 for five subjects.
4. The status of a claim that A beats B (:func:`claim_status`): "reproduced" when the test
   rejects at :data:`ALPHA` with the effect in A's favour, "reversed" when it rejects in B's
   favour, else "not reproduced".

A paired t-test on the same subject differences is reported beside it for readers used to
it (it assumes normally distributed differences); it never decides the status.
"""

from __future__ import annotations

import itertools
import math
from typing import Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats

#: Significance level of the claim's status.
ALPHA = 0.05
#: Resamples of the bootstrap interval.
BOOTSTRAP_SAMPLES = 10_000
#: Above this many subjects the sign-flip test samples this many patterns instead of all.
EXACT_LIMIT = 16


def _value(entry) -> float | None:
    """One subject's score: a number, or the mean over seeds of a sequence (None ignored)."""
    if entry is None:
        return None
    if isinstance(entry, (int, float)):
        return None if not math.isfinite(entry) else float(entry)
    values = [float(v) for v in entry if v is not None and math.isfinite(v)]
    return float(np.mean(values)) if values else None


def smallest_p(n_subjects: int) -> float:
    """Smallest two-sided p of the exact sign-flip test with ``n_subjects``: ``2 / 2**n``."""
    return min(1.0, 2.0 / 2 ** n_subjects)


def sign_flip_test(differences, seed: int = 0) -> float:
    """Two-sided p of the mean of ``differences`` (one per subject) being zero.

    Exact over all ``2**n`` sign patterns up to :data:`EXACT_LIMIT` subjects, otherwise from
    ``2**EXACT_LIMIT`` random patterns (with the observed one counted).
    """
    d = np.asarray(differences, dtype=float).ravel()
    if d.size == 0:
        raise ValueError("No paired differences to test.")
    observed = abs(d.mean())
    if d.size <= EXACT_LIMIT:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        return float(np.mean(np.abs(signs @ d / d.size) >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(2 ** EXACT_LIMIT, d.size))
    extreme = np.sum(np.abs(signs @ d / d.size) >= observed - 1e-12)
    return float((extreme + 1) / (signs.shape[0] + 1))


def bootstrap_ci(differences, level: float = 0.95, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> list[float]:
    """Percentile bootstrap interval of the mean difference, resampling subjects."""
    d = np.asarray(differences, dtype=float).ravel()
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(samples, d.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return [float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))]


def paired_comparison(a: Mapping[str, object], b: Mapping[str, object], higher_is_better: bool = True,
                      seed: int = 0) -> dict:
    """Compare method ``a`` with method ``b`` over the subjects both have a score for.

    Parameters
    ----------
    a, b : mapping subject -> float, or sequence of floats (one per seed), or None
        A subject whose score is None (undefined) for either method is left out of both.
    higher_is_better : bool
        True for r, False for errors; sets who counts as better.

    Returns
    -------
    dict
        ``{"n", "subjects", "differences" (a - b per subject), "effect" (mean difference),
        "ci" ([low, high], 95 % bootstrap over subjects), "p" (exact sign-flip, subjects as
        blocks), "p_smallest" (what n subjects allow), "p_t" (paired t-test, for reference),
        "a_better" (subjects where a is better), "higher_is_better"}``. With no subject,
        effect, ci and the p values are None.
    """
    subjects = sorted(s for s in set(a) & set(b) if _value(a[s]) is not None and _value(b[s]) is not None)
    differences = {s: _value(a[s]) - _value(b[s]) for s in subjects}
    d = np.array(list(differences.values()))
    out = {"n": len(subjects), "subjects": subjects, "differences": differences,
           "higher_is_better": higher_is_better, "effect": None, "ci": None, "p": None,
           "p_smallest": smallest_p(len(subjects)) if subjects else None, "p_t": None,
           "a_better": int(np.sum(d > 0) if higher_is_better else np.sum(d < 0))}
    if not subjects:
        return out
    out.update(effect=float(d.mean()), ci=bootstrap_ci(d, seed=seed), p=sign_flip_test(d, seed))
    if d.size > 1 and np.ptp(d) > 0:
        out["p_t"] = float(scipy_stats.ttest_1samp(d, 0.0).pvalue)
    return out


def claim_status(comparison: Mapping, alpha: float = ALPHA) -> str:
    """"reproduced" (a significantly better), "reversed" (b significantly better) or "not reproduced"."""
    p, effect = comparison.get("p"), comparison.get("effect")
    if p is None or effect is None or p >= alpha or effect == 0:
        return "not reproduced"
    a_ahead = effect > 0 if comparison["higher_is_better"] else effect < 0
    return "reproduced" if a_ahead else "reversed"


def claim(comparison: Mapping, score: str, alpha: float = ALPHA) -> dict:
    """The claim block of the results summary: ``{"status", "effect", "ci", "p", ...}``."""
    return {"status": claim_status(comparison, alpha), "effect": comparison["effect"], "ci": comparison["ci"],
            "p": comparison["p"], "p_smallest": comparison["p_smallest"], "p_t": comparison["p_t"],
            "n": comparison["n"], "nmm_better": comparison["a_better"], "score": score, "alpha": alpha}


#: The statuses of :func:`claim_status` said of a comparison that is not the paper's claim.
PLAIN_STATUS = {"reproduced": "significantly better", "reversed": "significantly worse",
                "not reproduced": "no significant difference"}


def claim_sentence(muscle: str, block: Mapping, a: str = "the NMM", b: str = "the synergy extrapolation",
                   the_claim: bool = True) -> str:
    """One sentence stating a claim block of :func:`claim` for ``muscle`` (Markdown). With
    ``the_claim`` False (a comparison beyond the paper's claim) the status is said plainly
    (:data:`PLAIN_STATUS`) instead of as the claim's."""
    status, n = block["status"], block["n"]
    said = status if the_claim else PLAIN_STATUS[status]
    if not n:
        return f"**{muscle}: {said}.** No subject has a defined {block['score']} for both methods."
    low, high = block["ci"]
    floor = (f", the smallest that {n} subjects allow" if block["p_smallest"] is not None
             and math.isclose(block["p"], block["p_smallest"]) else "")
    if status == "reproduced":
        lead = f"{a} is significantly better than {b}"
    elif status == "reversed":
        lead = f"{b} is significantly better than {a}"
    elif block["p_smallest"] is not None and block["p_smallest"] >= block["alpha"]:
        lead = f"{n} subjects are too few for an exact test to reach α = {block['alpha']:g} in either direction"
    else:
        lead = f"the difference is not significant at α = {block['alpha']:g}"
    return (f"**{muscle}: {said}** ({lead}). In {block['score']}, {a} minus {b} is "
            f"{block['effect']:+.3f} (95 % CI {low:+.3f} to {high:+.3f}, bootstrap over {n} subjects); "
            f"{a} is better in {block['nmm_better']} of {n} subjects; exact permutation test with "
            f"subjects as blocks p = {block['p']:.3g}{floor}.")


def subject_scores(subjects: Mapping[str, Mapping], method: str, path: Sequence[str]) -> dict:
    """``{subject: value}`` of one score of one method, read along ``path`` in each subject's
    summary entry (e.g. ``("median_trial", "BRA", "r")``); a missing entry gives None."""
    out = {}
    for subject, methods in subjects.items():
        value = methods.get(method)
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        out[subject] = value
    return out
