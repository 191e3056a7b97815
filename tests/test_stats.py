"""Subject-level paired statistics and the claim's status, against SciPy and known effects."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from nmm_core import results, stats


def test_the_exact_sign_flip_test_matches_scipy(rng):
    for n in (3, 5, 7, 9):
        d = rng.normal(0.05, 0.1, size=n)
        expected = scipy_stats.permutation_test((d,), np.mean, permutation_type="samples", n_resamples=np.inf,
                                                alternative="two-sided").pvalue
        assert stats.sign_flip_test(d) == pytest.approx(expected)


def test_five_subjects_cannot_go_below_one_sixteenth():
    assert stats.smallest_p(5) == 0.0625
    consistent = [0.1, 0.2, 0.15, 0.3, 0.05]
    assert stats.sign_flip_test(consistent) == pytest.approx(0.0625)
    assert scipy_stats.wilcoxon(consistent).pvalue == pytest.approx(0.0625)  # the rank test's floor too


def _nested_draw(rng, n_subjects, effect, n_trials=8):
    """Per-subject differences of a nested design: each subject has its own method effect
    (a random slope, mean ``effect``), trials add noise around it. Returns (subject means, trials)."""
    slopes = effect + rng.normal(scale=0.1, size=n_subjects)
    trials = slopes[:, None] + rng.normal(scale=0.05, size=(n_subjects, n_trials))
    return trials.mean(axis=1), trials


def test_the_subject_level_test_holds_its_size_without_an_effect_and_finds_a_large_effect():
    rng = np.random.default_rng(7)
    draws = [_nested_draw(rng, 8, 0.0) for _ in range(2000)]
    rejected = np.mean([stats.sign_flip_test(means) < 0.05 for means, _ in draws])
    assert 0.025 < rejected < 0.07  # nominal 0.05 (0.047 attainable with 8 subjects)
    # The per-trial test this replaces treats 64 correlated trials as independent and fails:
    pseudo = np.mean([scipy_stats.wilcoxon(trials.ravel()).pvalue < 0.05 for _, trials in draws[:400]])
    assert pseudo > 0.3

    found = np.mean([stats.sign_flip_test(_nested_draw(rng, 8, 0.25)[0]) < 0.05 for _ in range(300)])
    assert found > 0.95


def test_the_bootstrap_interval_covers_the_mean_difference(rng):
    d = rng.normal(0.1, 0.05, size=5)
    low, high = stats.bootstrap_ci(d)
    assert low < d.mean() < high and d.min() <= low and high <= d.max()
    assert stats.bootstrap_ci([0.2] * 4) == [pytest.approx(0.2), pytest.approx(0.2)]


def test_paired_comparison_uses_seed_means_and_leaves_out_undefined_subjects():
    a = {"S01": [0.8, 0.6], "S02": 0.9, "S03": None, "S04": 0.5}
    b = {"S01": 0.6, "S02": 0.7, "S03": 0.9, "S04": 0.6}
    out = stats.paired_comparison(a, b)
    assert out["subjects"] == ["S01", "S02", "S04"] and out["n"] == 3
    assert out["differences"] == {"S01": pytest.approx(0.1), "S02": pytest.approx(0.2), "S04": pytest.approx(-0.1)}
    assert out["effect"] == pytest.approx(0.2 / 3) and out["a_better"] == 2
    errors = stats.paired_comparison({"S01": 1.0, "S02": 2.0}, {"S01": 2.0, "S02": 3.0}, higher_is_better=False)
    assert errors["a_better"] == 2


def _subjects(nmm_values, mse_values):
    """Summary entries with only the primary score filled in."""
    def entry(v):
        return {"median_trial": {"BRA": {"r": v}, "TRImed": {"r": v}}}
    return {f"S{i:02d}": {"nmm": entry(x), "mse": entry(y)} for i, (x, y) in enumerate(zip(nmm_values, mse_values))}


def test_the_claim_and_its_sentence_follow_the_results_and_change_when_they_are_swapped():
    better, worse = [0.9, 0.85, 0.95, 0.8, 0.9, 0.88], [0.7, 0.6, 0.75, 0.65, 0.7, 0.72]
    forward = results.claims(_subjects(better, worse))["BRA"]
    swapped = results.claims(_subjects(worse, better))["BRA"]
    assert forward["status"] == "reproduced" and swapped["status"] == "reversed"
    assert forward["effect"] == pytest.approx(-swapped["effect"]) and forward["p"] == pytest.approx(2 / 2 ** 6)
    assert forward["ci"][0] > 0 > swapped["ci"][1]
    sentences = stats.claim_sentence("BRA", forward), stats.claim_sentence("BRA", swapped)
    assert "reproduced" in sentences[0] and "reversed" in sentences[1] and sentences[0] != sentences[1]
    # A comparison that is not the paper's claim says the same without the claim's words.
    plain = [stats.claim_sentence("BRA", block, "A", "B", the_claim=False) for block in (forward, swapped)]
    assert plain[0].startswith("**BRA: significantly better**") and plain[1].startswith("**BRA: significantly worse**")
    assert "A is significantly better than B" in plain[0] and "reproduced" not in plain[0] + plain[1]

    five = results.claims(_subjects(better[:5], worse[:5]))["BRA"]
    assert five["status"] == "not reproduced" and five["p"] == pytest.approx(0.0625)
    assert "too few" in stats.claim_sentence("BRA", five) and "smallest that 5 subjects allow" in stats.claim_sentence("BRA", five)
    mixed = results.claims(_subjects([0.9, 0.6, 0.8, 0.7, 0.75, 0.6], [0.7, 0.8, 0.75, 0.72, 0.7, 0.62]))["BRA"]
    assert mixed["status"] == "not reproduced" and "not significant" in stats.claim_sentence("BRA", mixed)


def test_the_seed_spread_is_numpys_over_the_defined_members():
    mean, sd = results.seed_spread([0.8, None, 0.6, float("nan"), 0.7])
    assert mean == pytest.approx(np.mean([0.8, 0.6, 0.7]))
    assert sd == pytest.approx(np.std([0.8, 0.6, 0.7], ddof=1))
    assert results.seed_spread([0.5]) == (0.5, None)
    assert results.seed_spread([None, None]) == (None, None)


def _member_entry(r_tri, strength_tri, errors, r_bra=None):
    """A results file's member fields: TRImed r and the surface triceps' strength per member."""
    r_bra = r_bra if r_bra is not None else [0.8] * len(r_tri)
    parameters = [{"max_isometric_force_scale": {"TRIlong": s, "TRIlat": s, "TRImed": 1.0, "BIClong": 1.0,
                                                 "BICshort": 1.0, "BRA": 1.0}} for s in strength_tri]
    return {"seed_scores": {"TRImed": {"median_trial_r": list(r_tri)}, "BRA": {"median_trial_r": list(r_bra)}},
            "member_validation_rmse": list(errors), "member_parameters": parameters}


def test_the_member_diagnosis_ranks_members_within_their_subject():
    """Within each subject TRImed r falls as the triceps get stronger (by one slope), while the
    subject with the stronger triceps overall also has the higher r: pooled over members as they
    stand the correlation is positive, between members of a subject it is -1, as SciPy finds on
    the centred values. Validation error unrelated to r within subjects gives rho 0."""
    strength = {"A": np.array([1.0, 1.05, 1.1]), "B": np.array([1.3, 1.45, 1.5])}
    r = {"A": 0.2 - 2.0 * (strength["A"] - 1.1), "B": 0.9 - 2.0 * (strength["B"] - 1.4)}
    errors = {"A": [0.6, 0.5, 0.6], "B": [1.2, 1.0, 1.2]}  # the middle member fits best, r is monotone
    entries = {s: _member_entry(r[s], strength[s], errors[s]) for s in strength}
    assert scipy_stats.spearmanr(np.concatenate(list(strength.values())), np.concatenate(list(r.values()))).statistic > 0
    found = results.member_diagnosis(entries)
    assert found["TRImed"]["strength_rho"] == pytest.approx(-1.0)
    assert found["TRImed"]["validation_rho"] == pytest.approx(0.0, abs=1e-12)
    assert found["TRImed"]["members"] == 6 and len(found["rows"]) == 6
    assert found["rows"][0]["validation_excess"] == pytest.approx(0.6 / 0.5 - 1)
    assert found["rows"][4]["TRImed"]["synergist_strength"] == pytest.approx(1.45)
    assert found["BRA"]["strength_rho"] is None  # r constant: no correlation
    # B's members span 2 * (1.5 - 1.3) in r, A's 2 * (1.1 - 1.0); both fit within 20 % of their best.
    assert found["TRImed"]["widest_range"] == pytest.approx(0.4) and found["BRA"]["widest_range"] == 0.0
    assert found["max_validation_excess"] == pytest.approx(0.2)
    assert results.surface_synergists("BRA") == ("BIClong", "BICshort")
    assert results.surface_synergists("TRImed") == ("TRIlong", "TRIlat")
    # A member with an undefined r is left out; a subject without member fields is skipped.
    entries["A"]["seed_scores"]["TRImed"]["median_trial_r"][0] = None
    entries["C"] = {"seed_scores": {}}
    found = results.member_diagnosis(entries)
    assert found["TRImed"]["members"] == 5 and found["TRImed"]["strength_rho"] == pytest.approx(-1.0)
    # The baseline's restarts are read from their own fields, the same way; members' fields are not.
    renamed = dict(zip(results.MEMBER_FIELDS["members"], results.MEMBER_FIELDS["restarts"]))
    restarts = {s: {renamed.get(k, k): v for k, v in e.items()} for s, e in entries.items()}
    assert results.member_diagnosis(restarts, "restarts") == found
    assert results.member_diagnosis(restarts)["TRImed"]["members"] == 0
    assert results.member_diagnosis(entries, "restarts")["TRImed"]["members"] == 0


def test_the_ensemble_parameters_are_the_mean_of_its_members():
    members = [{"max_isometric_force_scale": {"TRIlong": 1.0, "BIClong": 2.0}, "electromechanical_delay": {"g": 0.02}},
               {"max_isometric_force_scale": {"TRIlong": 3.0, "BIClong": 2.5}, "electromechanical_delay": {"g": 0.04}}]
    found = results.mean_parameters(members)
    assert found == {"max_isometric_force_scale": {"TRIlong": pytest.approx(2.0), "BIClong": pytest.approx(2.25)},
                     "electromechanical_delay": {"g": pytest.approx(0.03)}}


def test_setting_or_seed_compares_the_candidates_range_with_the_seeds():
    """Candidates' validation errors 1.0, 1.02, 1.1 (range 10 % of the best, runner-up 2 %
    behind) against seeds 1.0 and 1.05 (5 %) on subject A, and against seeds 1.0, 1.3 (30 %)
    on B: the seeds are wider on B alone. A subject without members, or with an undefined
    candidate error, is counted without the missing values or skipped."""
    selection = [{"validation_rmse": v} for v in (1.1, 1.0, 1.02)]
    entries = {"A": {"selection": selection, "member_validation_rmse": [1.05, 1.0]},
               "B": {"selection": selection, "member_validation_rmse": [1.3, 1.0, 1.2]},
               "C": {"selection": selection},
               "D": {"selection": [{"validation_rmse": None}, {"validation_rmse": 2.0}],
                     "member_validation_rmse": [2.0, 2.2]}}
    found = results.setting_or_seed(entries)
    assert [r["subject"] for r in found["rows"]] == ["A", "B"] and found["subjects"] == 2
    a, b = found["rows"]
    assert a["setting_range"] == pytest.approx(0.1) and a["margin"] == pytest.approx(0.02)
    assert a["seed_range"] == pytest.approx(0.05) and b["seed_range"] == pytest.approx(0.3)
    assert (a["candidates"], a["seeds"], b["seeds"]) == (3, 2, 3)
    assert found["seed_wider"] == 1
    assert results.setting_or_seed({})["rows"] == [] and results.setting_or_seed({})["seed_wider"] == 0
