"""The virtual cohort's truth: seeded subjects, and Moco excitations consistent with OpenSim ID;
its home in the data folder, and a quiet generation."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nmm_core import cohort, config, results


def test_cohort_is_reproducible_and_subjects_differ():
    first, again, other = cohort.make_cohort(seed=7), cohort.make_cohort(seed=7), cohort.make_cohort(seed=8)
    assert first == again
    assert first != other
    assert len({s.body.segment_length_scale for s in first}) == len(first)
    assert [s.name for s in first] == ["S01", "S02", "S03", "S04", "S05"]
    for subject in first:
        assert 0.03 <= subject.electromechanical_delay <= 0.07
        assert 0.01 <= subject.minimum_activation <= 0.06


def test_trial_kinematics_stay_in_range_and_are_smooth():
    spec = cohort.TrialSpec(2.0, "hanging", 0.2, 2.1, 1.6, n_cycles=2)
    time, angle = spec.kinematics()
    assert time[-1] == pytest.approx(spec.duration)
    assert np.diff(time) == pytest.approx(np.full(time.size - 1, 1 / cohort.KINEMATICS_RATE))
    assert angle.min() == pytest.approx(0.2) and angle.max() == pytest.approx(2.1, abs=1e-3)
    speed, _ = cohort.arm_model.elbow_kinematics(time, angle)
    assert abs(speed[0]) < 1e-6  # starts at rest


@pytest.mark.opensim
@pytest.mark.parametrize("posture, deep_muscle", [("hanging", "BRA"), ("overhead", "TRImed")])
def test_moco_truth_reproduces_inverse_dynamics_and_loads_the_deep_muscle(posture, deep_muscle):
    subject = cohort.make_cohort()[1]
    spec = cohort.TrialSpec(4.0, posture, 0.3, 2.0, 1.2, n_cycles=1)
    truth = cohort.solve_true_excitations(subject, spec)
    assert truth["excitation"].shape == (truth["time"].size, 6)
    assert truth["activation"].min() >= subject.minimum_activation - 1e-6
    assert truth["excitation"].min() >= 0 and truth["excitation"].max() <= 1
    check = cohort.torque_consistency(subject, spec, truth)
    assert check["nrmse"] <= 0.02
    # The deep muscle does real work in this posture (not stuck at its floor).
    deep = truth["excitation"][:, config.MUSCLE_NAMES.index(deep_muscle)]
    assert deep.max() > subject.minimum_activation + 0.1


@pytest.fixture(scope="module")
def small_cohort_run(tmp_path_factory):
    """The quick cohort of one subject, generated as a user would (two worker processes, a
    progress bar) in a subprocess whose terminal output is kept: ``(folder, completed run)``."""
    directory = tmp_path_factory.mktemp("cohort")
    code = ("import sys; from nmm_core import cohort; "
            "cohort.generate_cohort(sys.argv[1], quick=True, subjects=['S02'], workers=2)")
    run = subprocess.run([sys.executable, "-c", code, str(directory)], capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    return directory, run


@pytest.fixture(scope="module")
def small_cohort(small_cohort_run):
    return small_cohort_run[0]


#: What IPOPT, CasADi and Moco print around a solve, whatever their verbosity settings.
SOLVER_TEXT = ("Ipopt", "EXIT:", "Number of Iterations", "t_proc", "Breakdown of objective")


@pytest.mark.opensim
def test_generation_shows_a_progress_bar_and_one_line_and_logs_the_solvers(small_cohort_run):
    directory, run = small_cohort_run
    terminal = run.stdout + run.stderr
    assert [text for text in SOLVER_TEXT if text in terminal] == []
    n_trials = len(cohort.HAND_LOADS) * len(cohort.QUICK_PLAN)
    assert run.stdout.count("\n") == 1 and f"cohort (quick): {n_trials} trials solved" in run.stdout
    assert f"{n_trials}/{n_trials}" in run.stderr  # the progress bar's last state
    log = (directory / cohort.LOG_FILE).read_text()
    assert "This program contains Ipopt" in log and "Breakdown of objective" in log
    assert sorted(line for line in log.splitlines() if line.startswith("--- ")) == sorted(
        f"--- S02/{trial_id} ---" for trial_id, _ in cohort.trial_plan(1, quick=True))


def test_output_of_c_libraries_goes_to_the_log(capfd, tmp_path):
    libc = ctypes.CDLL(None)
    log = tmp_path / "solver.log"
    with cohort.output_to_log(log, "first"):
        print("from Python")
        libc.printf(b"from C, still in its buffer")  # no newline: only a flush writes it
        os.write(2, b"from descriptor 2\n")
    print("after")
    out, err = capfd.readouterr()
    assert (out, err) == ("after\n", "")
    text = log.read_text()
    assert text.startswith("--- first ---\n")
    for line in ("from Python", "from C, still in its buffer", "from descriptor 2"):
        assert line in text
    with cohort.output_to_log(log, "second"):
        os.write(1, b"again\n")
    assert log.read_text().endswith("--- second ---\nagain\n")


@pytest.fixture(scope="module")
def thresholds_cohort(tmp_path_factory):
    """The same subject's quick trials with the ``thresholds`` motor control."""
    directory = tmp_path_factory.mktemp("thresholds")
    return cohort.generate_cohort(directory, quick=True, subjects=["S02"], workers=2, progress=False,
                                  motor_control="thresholds")


@pytest.mark.opensim
@pytest.mark.parametrize("variant", ["small_cohort", "thresholds_cohort"])
def test_every_generated_trial_reproduces_opensim_inverse_dynamics(variant, request):
    """Stored truth -> activation dynamics -> OpenSim's own muscle forces -> torque vs stored ID,
    in both motor-control variants."""
    from nmm_core import arm_model, muscle

    subject = cohort.make_cohort()[1]
    loaded = cohort.load_cohort(request.getfixturevalue(variant))["S02"]
    assert len(loaded) == len(cohort.HAND_LOADS) * len(cohort.QUICK_PLAN)
    for trial in loaded:
        excitation = np.column_stack([trial.truth[m] for m in config.MUSCLE_NAMES])
        activation = muscle.activation_dynamics(excitation, 1 / trial.rate)
        speed = trial.elbow_speed
        forces, _, _ = arm_model.opensim_muscle_forces(subject.body, trial.elbow_angle, speed,
                                                       activation, trial.shoulder_angle)
        _, moment_arms = arm_model.sample_muscle_geometry(
            arm_model.build_arm_model(subject.body, 0.0, trial.shoulder_angle), trial.elbow_angle)
        torque = np.sum(moment_arms * forces, axis=1)
        nrmse = np.sqrt(np.mean((torque - trial.torque) ** 2)) / np.ptp(trial.torque)
        assert nrmse <= 0.02, f"{trial.name}: NRMSE {nrmse:.3%}"
        assert trial.metadata["summary"]["torque_nrmse"] <= 0.02
        # The stored torque is OpenSim's ID of the stored kinematics.
        reference = arm_model.inverse_dynamics(subject.body, trial.time, trial.elbow_angle,
                                               trial.hand_load, trial.shoulder_angle)
        np.testing.assert_allclose(trial.torque, reference, atol=1e-6 * np.abs(reference).max())


@pytest.mark.opensim
def test_every_method_runs_unchanged_on_the_variant_and_its_results_read_back(thresholds_cohort, tmp_path):
    """The variant chapters' pipeline (:func:`protocol.run_methods`) on the variant's subject
    with a tiny plan: each method chooses among its own candidates of the same budget, the NMMs
    are ensembles whose estimate is the mean of their members, the scores are those of the
    stored predictions, and the results files read back for the regime table."""
    from nmm_core import protocol, training

    tiny = protocol.Plan(max_epochs=2, patience=1, seeds=2, batch_size=64, stride=32, jit_compile=False)
    data = training.load_subject(thresholds_cohort, "S02")
    assert data.record["motor_control"]["model"] == "thresholds"
    runs = protocol.run_methods(data, tiny)
    assert set(runs) == set(results.METHODS)
    assert (runs["mse"].extra["factorisation"], runs["mse"].extra["n_synergies"]) in protocol.SYNX_CANDIDATES
    assert runs["nmm"].extra["chosen"] in protocol.NMM_CANDIDATES
    assert runs["nmm_synergy"].extra["chosen"] in protocol.NMM_SYNERGY_CANDIDATES
    held = {a.trial.name for a in data.held_out}
    for method, run in runs.items():
        assert len(run.extra["selection"]) == protocol.BUDGET
        assert set(run.predictions) == held and set(run.extra["held_out_trials"]) == held
        assert not held & set(run.extra["validation_trials"])
        rescored = training.score(run.held, run.predictions, data.delay)
        assert rescored["median_trial"] == run.scores["median_trial"]
    for method in ("nmm", "nmm_synergy"):
        run = runs[method]
        assert run.extra["seeds"] == tiny.seeds
        for p in run.predictions.values():
            assert p["member_hidden"].shape[0] == tiny.seeds
            np.testing.assert_allclose(p["hidden"], p["member_hidden"].mean(axis=0), rtol=1e-5, atol=1e-7)
        for m in config.DEEP_MUSCLES:
            members = run.extra["seed_scores"][m]["median_trial_r"]
            assert run.extra["seed_sd"][m] == pytest.approx(np.std(members, ddof=1))
        # What the member diagnosis reads: each member's own parameters and validation error.
        assert run.extra["member_parameters"] == [run.model.physics.identified_parameters(k) for k in range(tiny.seeds)]
        assert len(run.extra["member_validation_rmse"]) == tiny.seeds
        for k, nrmse in enumerate(run.extra["member_torque_nrmse"]):  # each member's torque, scored alone
            alone = {name: {"hidden": p["member_hidden"][k], "torque": p["member_torque"][k]}
                     for name, p in run.predictions.items()}
            assert nrmse == pytest.approx(training.score(run.held, alone, data.delay, muscles=())["torque"]["nrmse"])
    # The baseline's restarts, scored one by one: the kept one's scores are the method's.
    mse = runs["mse"].extra
    assert len(mse["restarts"]) == len(mse["restart_validation_rmse"]) == len(mse["restart_parameters"]) == tiny.seeds
    for m in config.DEEP_MUSCLES:
        kept = mse["restart_scores"][m]["median_trial_r"][mse["final_start"]]
        assert kept == pytest.approx(runs["mse"].scores["median_trial"][m]["r"])
    np.testing.assert_allclose(runs["nmm"].extra["member_validation_rmse"],
                               training.validation_error(runs["nmm"].model, data.arrays["validation"], tiny.window),
                               rtol=1e-4)
    folder = results.variant_dir("thresholds", tmp_path) / "S02"
    for method, run in runs.items():
        results.write_run(folder, "S02", method, run,
                          training.prediction_curves(run.held, run.predictions, data.delay), quick=True)
    subjects, missing = results.load_results(folder.parent, quick=True)
    assert missing == [] and set(subjects["S02"]) == set(results.METHODS)
    assert subjects["S02"]["nmm"]["seeds"] == tiny.seeds
    assert subjects["S02"]["mse"]["median_trial"]["BRA"]["r"] == pytest.approx(
        runs["mse"].scores["median_trial"]["BRA"]["r"])


def _activations(trial) -> dict:
    from nmm_core import muscle

    return {m: muscle.activation_dynamics(np.asarray(trial.truth[m])[:, None], 1 / trial.rate)[:, 0]
            for m in config.MUSCLE_NAMES}


def _recruited_first(activation: dict, deep: str, superficial: tuple, floor: float) -> float:
    """Share of the samples with ``deep`` active (0.02 above the floor) in which every
    ``superficial`` head is still at its floor (within 0.005)."""
    active = activation[deep] > floor + 0.02
    resting = np.all([activation[m] < floor + 0.005 for m in superficial], axis=0)
    return (active & resting).sum() / max(1, active.sum())


@pytest.mark.opensim
def test_the_thresholds_variant_differs_in_motor_control_only_and_shows_its_design(small_cohort, thresholds_cohort):
    """Same bodies, kinematics and torques; the deep muscles are recruited before the
    superficial heads (the medial head below the long and lateral heads' threshold), and the
    medial head co-contracts during fast flexion, at its demand, where minimum effort leaves it
    lower."""
    subject = cohort.make_cohort()[1]
    floor = subject.minimum_activation
    design = cohort.recruitment_thresholds(1)
    record = cohort.subject_record(thresholds_cohort, "S02")["motor_control"]
    assert record["model"] == "thresholds" and record["linear_costs"] == dict(design.linear_costs)
    assert cohort.subject_record(small_cohort, "S02")["motor_control"] == {"model": "min_effort"}
    default = {t.name: t for t in cohort.load_cohort(small_cohort)["S02"]}
    variant = {t.name: t for t in cohort.load_cohort(thresholds_cohort)["S02"]}
    assert set(default) == set(variant)
    shares, cocontraction = {"min_effort": [], "thresholds": [], "BRA min_effort": [], "BRA thresholds": []}, {}
    for name, trial in variant.items():
        np.testing.assert_array_equal(trial.elbow_angle, default[name].elbow_angle)
        np.testing.assert_array_equal(trial.torque, default[name].torque)
        for label, t in (("min_effort", default[name]), ("thresholds", trial)):
            a = _activations(t)
            shares[label].append(_recruited_first(a, "TRImed", ("TRIlong", "TRIlat"), floor))
            shares[f"BRA {label}"].append(_recruited_first(a, "BRA", ("BIClong", "BICshort"), floor))
            demand = design.demand(t.time, t.elbow_angle, floor)
            fast = demand > floor + 0.5 * design.cocontraction
            assert fast.sum() > 10, name  # every quick trial has a fast flexion
            cocontraction.setdefault(label, []).append(np.mean(a["TRImed"][fast] / demand[fast]))
    assert np.mean(shares["thresholds"]) >= 0.5 and np.mean(shares["min_effort"]) <= 0.1, shares
    assert np.mean(shares["BRA thresholds"]) >= np.mean(shares["BRA min_effort"]) + 0.1, shares
    assert min(cocontraction["thresholds"]) >= 0.8, cocontraction
    assert min(cocontraction["min_effort"]) < 0.8  # minimum effort alone does not do it


def test_cohort_variants_have_their_own_names_folders_and_fingerprints(monkeypatch, tmp_path):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path))
    for quick in (False, True):
        for motor_control in cohort.MOTOR_CONTROLS:
            assert cohort.parse_cohort_name(cohort.cohort_name(quick, motor_control)) == (quick, motor_control)
    assert cohort.cohort_name(True, "thresholds") == "virtual-cohort-thresholds-quick"
    assert cohort.cohort_fingerprint(False, 2025, "thresholds") != cohort.cohort_fingerprint(False, 2025)
    assert cohort.cohort_path(motor_control="thresholds").name.startswith("virtual-cohort-thresholds-seed2025-")
    with pytest.raises(ValueError, match="Unknown motor control 'nash'"):
        cohort.cohort_name(False, "nash")
    with pytest.raises(ValueError, match="not the name of a generated cohort"):
        cohort.parse_cohort_name("virtual-cohort-nash")
    # The variant's own draws come from its own seed, the same for every run.
    assert cohort.recruitment_thresholds(0) == cohort.recruitment_thresholds(0)
    assert cohort.recruitment_thresholds(0) != cohort.recruitment_thresholds(0, seed=1)
    low, high = cohort.THRESHOLD_COST_RANGE
    assert all(low <= c <= high for c in cohort.recruitment_thresholds(3).linear_costs.values())
    assert set(cohort.recruitment_thresholds(3).linear_costs) == set(config.SURFACE_MUSCLES)


def test_surface_emg_tracks_its_muscle_and_deep_channels_stay_hidden(small_cohort):
    subject = cohort.make_cohort()[1]
    for trial in cohort.load_cohort(small_cohort)["S02"]:
        assert set(trial.emg_channels) == set(config.SURFACE_MUSCLES)
        assert not set(config.DEEP_MUSCLES) & set(trial.emg_channels)
        assert set(config.DEEP_MUSCLES) <= set(trial.truth)
        for name in trial.emg_channels:
            # EMG leads the force by the subject's delay.
            truth = np.interp(trial.time + subject.electromechanical_delay, trial.time, trial.truth[name])
            if truth.std() > 0.03:
                r = np.corrcoef(truth, trial.channel(name))[0, 1]
                assert r > 0.8, f"{trial.name}/{name}: r = {r:.2f}"


def test_rerun_skips_finished_trials(small_cohort):
    marks = {p: p.stat().st_mtime_ns for p in small_cohort.glob("S02/trials/*/trial.json")}
    cohort.generate_cohort(small_cohort, quick=True, subjects=["S02"], progress=False)
    assert {p: p.stat().st_mtime_ns for p in marks} == marks
    with pytest.raises(ValueError, match="Unknown subjects"):
        cohort.generate_cohort(small_cohort, quick=True, subjects=["S09"], progress=False)


def test_the_fingerprint_follows_the_generating_code_only(tmp_path, monkeypatch):
    """A copy of the package: editing a generating module changes the fingerprint (a new
    cohort), editing where files live (paths) or an unrelated module does not."""
    copy = tmp_path / "nmm_core"
    shutil.copytree(Path(cohort.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cohort, "__file__", str(copy / "cohort.py"))
    original = cohort.cohort_fingerprint(True, 1)
    assert cohort.cohort_fingerprint(False, 1) != original != cohort.cohort_fingerprint(True, 2)
    for module in ("paths", "plotting", "training"):
        with open(copy / f"{module}.py", "a") as handle:
            handle.write("EDITED = 1\n")
        assert cohort.cohort_fingerprint(True, 1) == original, module
    for module in cohort.GENERATING_MODULES:
        path = copy / f"{module}.py"
        before = cohort.cohort_fingerprint(True, 1)
        path.write_text(path.read_text() + "def _edited():\n    \"\"\"A docstring.\"\"\"\n")
        assert cohort.cohort_fingerprint(True, 1) != before, module  # a new function: new code
        before = cohort.cohort_fingerprint(True, 1)
        path.write_text(path.read_text().replace("A docstring.", "Reworded.") + "# a comment\n")
        assert cohort.cohort_fingerprint(True, 1) == before, module  # its docstring and a comment: the same code


def test_the_cohort_lives_in_the_data_folder_under_its_fingerprint(monkeypatch, tmp_path):
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path))
    home = cohort.cohort_path(quick=True)
    assert home == tmp_path / "generated" / f"virtual-cohort-quick-seed2025-{cohort.cohort_fingerprint(True, 2025)}"
    assert cohort.cohort_path(quick=False, seed=7).name.startswith("virtual-cohort-seed7-")
    assert not cohort.is_complete(home, quick=True)
    assert cohort.generated_cohorts() == []


def test_a_quick_variant_cohort_holds_only_the_subjects_a_quick_run_trains_on(monkeypatch, tmp_path):
    """The quick run trains the first subject alone on a variant, so its variant cohort is solved
    for that subject alone; every other cohort holds every subject."""
    monkeypatch.setenv("NMM_DATA_DIR", str(tmp_path))
    everyone = [s.name for s in cohort.make_cohort()]
    assert cohort.generated_subjects(quick=False, motor_control="thresholds") == everyone
    assert cohort.generated_subjects(quick=True) == everyone
    assert cohort.generated_subjects(quick=True, motor_control="thresholds") == everyone[:1] == \
        config.variant_subjects("thresholds", everyone, quick=True)
    asked = []

    def record_only(directory, quick, seed, progress, motor_control, subjects):  # no solver: what is asked
        asked.append((quick, motor_control, subjects))
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cohort.json").write_text(json.dumps(
            {"fingerprint": cohort.cohort_fingerprint(quick, seed, motor_control), "subjects": subjects}))

    monkeypatch.setattr(cohort, "generate_cohort", record_only)
    variant = cohort.cohort_dir(quick=True, motor_control="thresholds", progress=False)
    assert asked == [(True, "thresholds", everyone[:1])]
    assert cohort.cohort_dir(quick=True, motor_control="thresholds", progress=False) == variant
    assert len(asked) == 1, "a complete cohort is not generated again"
    cohort.cohort_dir(quick=True, progress=False)
    assert asked[1] == (True, "min_effort", everyone)
    # A quick variant generated whole (as before) is complete; one without the first subject is not.
    record = json.loads((variant / "cohort.json").read_text())
    for subjects, complete in ((everyone, True), (everyone[1:], False)):
        (variant / "cohort.json").write_text(json.dumps({**record, "subjects": subjects}))
        assert cohort.is_complete(variant, quick=True, motor_control="thresholds") is complete


def test_a_missing_subject_record_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no generated subject 'S09'"):
        cohort.subject_record(tmp_path, "S09")
    (tmp_path / "S09").mkdir()
    (tmp_path / "S09" / "subject.json").write_text('{"name": "S09", "electromechanical_delay_s": 0.04}')
    assert cohort.subject_record(tmp_path, "S09")["electromechanical_delay_s"] == 0.04


@pytest.mark.opensim
def test_the_deep_share_of_torque_is_all_or_nothing_when_only_one_muscle_is_excited():
    """A trial in which, of each group, only the deep muscle (or only its synergists) is
    excited: the deep share of the group's torque is then near 1 (near 0), passive forces aside (up to 15 % here);
    shares come per hand load."""
    from nmm_core.trials import Trial

    body = cohort.make_cohort()[0].body
    time = np.arange(200) / 100.0
    angle = 1.2 + 0.4 * np.sin(2 * np.pi * 0.5 * time)

    def trial(excited, load):
        truth = {m: np.full(time.size, 0.5 if m in excited else 0.0) for m in config.MUSCLE_NAMES}
        return Trial(name=f"t{load}", subject="S01", time=time, elbow_angle=angle, torque=np.zeros(time.size),
                     emg=np.zeros((time.size, 4)), emg_channels=config.SURFACE_MUSCLES, hand_load=load,
                     shoulder_angle=0.0, truth=truth)

    shares = cohort.deep_torque_share(body, [trial(("BRA", "TRImed"), 0.0), trial(("BIClong", "TRIlat"), 2.0)])
    assert set(shares) == {0.0, 2.0}
    assert shares[0.0]["BRA"] > 0.8 and shares[0.0]["TRImed"] > 0.8, shares
    assert shares[2.0]["BRA"] < 0.1 and shares[2.0]["TRImed"] < 0.1, shares


def test_the_threshold_goal_gives_the_optimum_of_the_squared_plus_linear_cost(monkeypatch):
    """The thresholds variant poses w a^2 + c a as w (a + c / 2w)^2 (a control tracking goal);
    the cost as first written, OpenSim's own output goal on the activations (c * a) beside the
    squared effort, must reach the same activations within the solver's tolerance."""
    import opensim as osim

    def as_written(problem, subject, time, linear_costs, tracking):
        effort = osim.MocoControlGoal.safeDownCast(problem.updGoal("excitation_effort"))
        for name in config.MUSCLE_NAMES:
            effort.setWeightForControl(f"/forceset/{name}", float(subject.effort_weights[name]))
        for name, cost in linear_costs.items():
            goal = osim.MocoOutputGoal(f"linear_{name}", float(cost))  # exponent 1: c * a
            goal.setOutputPath(f"/forceset/{name}|activation")
            problem.addGoal(goal)

    subject, thresholds = cohort.make_cohort()[1], cohort.recruitment_thresholds(1)
    spec = dict(cohort.trial_plan(1, quick=True))["hanging_2kg_2"]
    time, angle = spec.kinematics()
    posed = cohort._moco_activations(subject, spec, time, angle, 0.02, thresholds.linear_costs)
    monkeypatch.setattr(cohort, "_motor_control_goals", as_written)
    written = cohort._moco_activations(subject, spec, time, angle, 0.02, thresholds.linear_costs)
    minimum_effort = cohort._moco_activations(subject, spec, time, angle, 0.02)
    difference = np.abs(posed - written).max()
    assert difference < 0.02
    assert np.abs(minimum_effort - written).max() > 5 * difference  # the linear costs matter here
