"""The regime table: each cohort variant's results gathered into ``results/regimes.json``, the
sentences computed from it, and the within-subject R² of the best non-negative map that both
variants share."""

import json

import numpy as np
import pytest

from nmm_core import config, results

SUBJECTS = ("S01", "S02", "S03", "S04", "S05")


def _block(r: float, nrmse: float) -> dict:
    """A results file's scores with ``r`` as every deep muscle's r (pooled and median trial)."""
    muscle = {"r": r, "rmse": 0.1, "r_lowpass": r, "rmse_lowpass": 0.1, "constant": False, "truth_constant": False}
    return {"BRA": muscle, "TRImed": dict(muscle), "torque": {"rmse_Nm": 1.0, "nrmse": nrmse, "r2": 0.9},
            "median_trial": {"BRA": {"r": r, "rmse": 0.1, "trials": 3}, "TRImed": {"r": r, "rmse": 0.1, "trials": 3}}}


def _write_variant(folder, values: dict, quick: bool = True, subjects=SUBJECTS):
    """Results files of every method for ``subjects``: ``values[method](i)`` is subject i's
    ``(r, nrmse, seed sd or None)``."""
    for i, subject in enumerate(subjects):
        for method, value in values.items():
            r, nrmse, sd = value(i)
            extra = {"train_seconds": 1.0, "quick": quick}
            if sd is not None:
                extra.update(seeds=2, seed_sd={"BRA": sd, "TRImed": sd})
            results.write_results(folder / subject / f"{method}.json", method, subject, _block(r, nrmse), extra)


VALUES = {"nmm": lambda i: (0.6 + 0.02 * i, 0.03, 0.1 * (i + 1)),
          "mse": lambda i: (0.8 - 0.01 * i, 0.02, None),
          "nmm_synergy": lambda i: (0.9, 0.025, 0.05)}


def test_regimes_json_has_the_issue_schema_and_the_means_of_the_subjects(tmp_path):
    _write_variant(tmp_path, VALUES, quick=False)
    reversed_values = {"nmm": lambda i: (0.95, 0.03, 0.01), "mse": lambda i: (0.5, 0.02, None),
                       "nmm_synergy": lambda i: (0.7, 0.025, 0.02)}
    _write_variant(tmp_path / "thresholds", reversed_values, quick=False)
    r2 = {v: {s: {"BRA": 0.5, "TRImed": 0.25} for s in SUBJECTS} for v in results.VARIANTS}
    path, regimes = results.write_regimes(False, r2, tmp_path)
    stored = json.loads(path.read_text())
    assert path == tmp_path / "regimes.json" and stored == regimes
    assert set(stored) == {"min_effort", "thresholds"}
    for entry in stored.values():
        assert set(entry) >= {"within_subject_r2", "methods", "claim"}
        assert entry["within_subject_r2"] == {s: {"BRA": 0.5, "TRImed": 0.25} for s in SUBJECTS}
        assert set(entry["methods"]) == {"nmm", "mse", "nmm_synergy"}
        for block in entry["methods"].values():
            assert set(block) == {"BRA", "TRImed", "torque"}
            assert set(block["BRA"]) == set(block["TRImed"]) == {"r", "r_sd"} and set(block["torque"]) == {"nrmse"}
        assert set(entry["claim"]) == {"BRA", "TRImed"}
    default = stored["min_effort"]["methods"]
    assert default["nmm"]["BRA"]["r"] == pytest.approx(np.mean([0.6, 0.62, 0.64, 0.66, 0.68]))
    assert default["nmm"]["TRImed"]["r_sd"] == pytest.approx(np.mean([0.1, 0.2, 0.3, 0.4, 0.5]))
    assert default["mse"]["BRA"]["r"] == pytest.approx(np.mean([0.8, 0.79, 0.78, 0.77, 0.76]))
    assert default["mse"]["BRA"]["r_sd"] is None  # one fit: no seed spread
    assert default["nmm_synergy"]["torque"]["nrmse"] == pytest.approx(0.025)
    # The baseline better on every subject, then the NMM better on every one: 5 of 5 each way.
    assert stored["min_effort"]["claim"]["BRA"]["nmm_better"] == 0
    assert stored["thresholds"]["claim"]["BRA"]["nmm_better"] == 5


def test_a_variant_with_some_subjects_missing_is_named(tmp_path):
    _write_variant(tmp_path, VALUES)
    _write_variant(tmp_path / "thresholds", {k: v for k, v in VALUES.items() if k != "nmm"}, subjects=("S01",))
    with pytest.raises(ValueError, match=r"thresholds: results missing for S01/nmm"):
        results.write_regimes(True, {}, tmp_path)
    # Results of the other mode do not count: the variant of this mode is absent, not broken.
    path, regimes = results.write_regimes(False, {}, tmp_path)
    assert regimes == {} and json.loads(path.read_text()) == {}


def test_a_quick_run_counts_the_variants_first_subject_alone(tmp_path):
    """The quick run takes only the first subject through a variant; a full run's files of the
    others stay in the folder and are neither counted nor taken as missing."""
    _write_variant(tmp_path, VALUES)  # the default cohort, every subject, quick
    _write_variant(tmp_path / "thresholds", VALUES, quick=False)  # an earlier full run
    _write_variant(tmp_path / "thresholds", {"nmm": lambda i: (0.5, 0.04, 0.2), "mse": lambda i: (0.7, 0.03, None),
                                             "nmm_synergy": lambda i: (0.6, 0.03, 0.1)}, subjects=("S01",))
    assert config.variant_subjects("thresholds", SUBJECTS, quick=True) == ["S01"]
    assert config.variant_subjects("thresholds", SUBJECTS, quick=False) == list(SUBJECTS)
    assert config.variant_subjects("min_effort", SUBJECTS, quick=True) == list(SUBJECTS)
    _, quick = results.write_regimes(True, {}, tmp_path)
    assert quick["min_effort"]["subjects"] == list(SUBJECTS) and quick["thresholds"]["subjects"] == ["S01"]
    assert quick["thresholds"]["methods"]["nmm"]["BRA"]["r"] == pytest.approx(0.5)
    assert quick["thresholds"]["claim"]["BRA"]["n"] == 1
    assert "(1 subject)," in results.regime_sentences(quick)["thresholds"]
    assert "(5 subjects)," in results.regime_sentences(quick)["min_effort"]
    # In full mode the variant counts every subject, so S01's quick files (which replaced its
    # full ones) are missing until its chapter reruns in full mode.
    _write_variant(tmp_path, VALUES, quick=False)
    with pytest.raises(ValueError, match=r"thresholds: results missing for S01/nmm, S01/mse, S01/nmm_synergy;"):
        results.write_regimes(False, {}, tmp_path)
    _write_variant(tmp_path / "thresholds", VALUES, quick=False, subjects=("S01",))
    _, full = results.write_regimes(False, {}, tmp_path)
    assert full["thresholds"]["subjects"] == list(SUBJECTS)
    assert full["thresholds"]["methods"]["nmm"]["BRA"]["r"] == pytest.approx(np.mean([0.6, 0.62, 0.64, 0.66, 0.68]))


def _regime(nmm: float, mse: float, synergy: float, status: str) -> dict:
    method = lambda r: {"BRA": {"r": r, "r_sd": None}, "TRImed": {"r": r, "r_sd": None}, "torque": {"nrmse": 0.02}}  # noqa: E731
    return {"methods": {"nmm": method(nmm), "mse": method(mse), "nmm_synergy": method(synergy)},
            "claim": {"BRA": {"status": status}, "TRImed": {"status": status}}, "subjects": list(SUBJECTS)}


def test_the_sentences_name_the_best_method_and_whether_the_verdict_moves():
    same = results.regime_sentences({"min_effort": _regime(0.7, 0.9, 0.8, "not reproduced"),
                                     "thresholds": _regime(0.6, 0.95, 0.7, "not reproduced")})
    assert "for BRA the synergy extrapolation (0.90), then the NMM with a synergy prior and then the NMM" in same["min_effort"]
    assert "(0.95)" in same["thresholds"] and "not reproduced for BRA and not reproduced for TRImed" in same["thresholds"]
    assert same["verdict"].startswith("The ranking of the methods is the same") and "does not hinge" in same["verdict"]
    moved = results.regime_sentences({"min_effort": _regime(0.7, 0.9, 0.8, "not reproduced"),
                                      "thresholds": _regime(0.95, 0.6, 0.7, "reproduced")})
    assert "for TRImed the NMM (0.95)" in moved["thresholds"]
    assert moved["verdict"].startswith("The ranking of the methods changes") and "depends on" in moved["verdict"]
    assert set(results.regime_sentences({"min_effort": _regime(0.7, 0.9, 0.8, "x")})) == {"min_effort"}


def test_the_variant_folders():
    root = results.variant_dir("min_effort")
    assert results.variant_dir("thresholds") == root / "thresholds"
    with pytest.raises(ValueError, match="unknown cohort variant 'other'"):
        results.variant_dir("other")


def test_pooled_cohorts_keep_every_subject_as_one_unit_of_the_exact_test(tmp_path):
    from scipy import stats as scipy_stats

    first = {"nmm": lambda i: (0.7 + 0.03 * i, 0.03, 0.1), "mse": lambda i: (0.6 + 0.01 * i, 0.02, None),
             "nmm_synergy": lambda i: (0.5, 0.02, 0.1)}
    second = {"nmm": lambda i: (0.5 + 0.05 * i, 0.03, 0.1), "mse": lambda i: (0.55 - 0.02 * i, 0.02, None),
              "nmm_synergy": lambda i: (0.9, 0.02, 0.1)}
    _write_variant(tmp_path / "a", first)
    _write_variant(tmp_path / "b", second)
    cohorts = {name: results.load_results(tmp_path / name, quick=True)[0] for name in ("a", "b")}
    both = results.pooled(cohorts)
    assert sorted(both) == sorted(f"{c}/{s}" for c in "ab" for s in SUBJECTS)  # S01 of each stays apart

    nmm = np.array([first["nmm"](i)[0] for i in range(5)] + [second["nmm"](i)[0] for i in range(5)])
    mse = np.array([first["mse"](i)[0] for i in range(5)] + [second["mse"](i)[0] for i in range(5)])
    claim = results.claims(both)["TRImed"]
    assert claim["n"] == 10 and claim["effect"] == pytest.approx(np.mean(nmm - mse))
    # SciPy's exact paired permutation test (all 2**10 sign flips) as the independent reference.
    reference = scipy_stats.permutation_test((nmm, mse), lambda x, y: np.mean(x - y), permutation_type="samples",
                                             n_resamples=np.inf, alternative="two-sided")
    assert claim["p"] == pytest.approx(reference.pvalue) and claim["p"] < 0.05 and claim["status"] == "reproduced"
    # Either cohort alone cannot reach 0.05 with five subjects; the method compared is a choice.
    assert results.claims(cohorts["a"])["TRImed"]["p"] >= 0.0625
    synergy = results.claims(both, "nmm_synergy", "mse")["BRA"]
    synergy_values = np.array([0.5] * 5 + [0.9] * 5)
    assert synergy["effect"] == pytest.approx(np.mean(synergy_values - mse))
    with pytest.raises(ValueError, match="no '/'"):
        results.pooled({"book/thresholds": cohorts["a"]})


def test_a_rerun_skips_a_subject_only_when_every_method_is_there_with_the_same_stamp(tmp_path):
    stamp = {"cohort": "virtual-cohort-seed7-abc", "seed": 0, "code": "d1"}
    folder = tmp_path / "S01"
    for method in results.METHODS:
        results.write_results(folder / f"{method}.json", method, "S01", _block(0.8, 0.03),
                              {"train_seconds": 1.0, "quick": True, "provenance": stamp})
        results.save_predictions(folder / f"{method}_predictions.npz", {"T1": {"hidden": np.zeros((4, 2))}})
    wanted = {"quick": True, "provenance": stamp}
    assert results.run_complete(folder, wanted)
    assert not results.run_complete(folder, {"quick": False, "provenance": stamp})  # the other mode
    assert not results.run_complete(folder, {"quick": True, "provenance": {**stamp, "code": "d2"}})  # other code
    assert not results.run_complete(tmp_path / "S02", wanted)  # nothing written
    (folder / "mse_predictions.npz").unlink()
    assert not results.run_complete(folder, wanted)
    results.save_predictions(folder / "mse_predictions.npz", {"T1": {"hidden": np.zeros((4, 2))}})
    text = (folder / "nmm.json").read_text()
    (folder / "nmm.json").write_text(text[: len(text) // 2])  # an interrupted write
    assert not results.run_complete(folder, wanted)
