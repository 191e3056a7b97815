"""nmm_core: the thin library behind the NMM book, and its map.

The modules of ``nmm_core`` and ``data_download`` in layers, lowest first. A module imports
only modules of lower layers, at the top of the file or inside a function
(``tests/test_layers.py`` checks every import against :data:`LAYERS`, and that no imports form
a cycle). Importing the package imports none of them, so ``nmm_core.storage`` and the NumPy
path of ``nmm_core.muscle`` work without TensorFlow; Keras, OpenSim and matplotlib are imported
inside the functions that use them.

Layer 0
    - ``paths``: every folder the project reads or writes (``NMM_DATA_DIR``, ``NMM_RESULTS_DIR``).
    - ``files``: the one atomic-write helper (no reader ever sees half a file).
    - ``cpu``: the cores this process may use and TensorFlow's thread-pool limits.
    - ``sources``: what a source file computes (its code without docstrings), for fingerprints.
Layer 1
    - ``config``: the arm26 constants, muscle names and groups, and the ``Subject`` record.
Layer 2
    - ``storage``: OpenSim ``.sto``/``.mot`` files, read and written with NumPy only.
    - ``tables``: generic readers of recorded tables, and their error helper.
    - ``muscle``: differentiable Hill-type physics, on NumPy arrays or Keras tensors.
    - ``signals``: surface EMG, simulated from excitations, then filtered and normalised.
    - ``metrics``: RMSE, Pearson r, NRMSE and R^2.
    - ``stats``: paired statistics with the subject as the unit; the status of a claim.
    - ``inference``: compiled batch and streaming estimation with a trained NMM.
Layer 3
    - ``arm_model``: the OpenSim arm: model building, muscle geometry fits, inverse dynamics.
    - ``network``: the NMM's Keras layers (ensembles of backbones and bounded physics blocks, model).
    - ``synergy``: the muscle synergy extrapolation baseline (MSE/SynX), NumPy/SciPy only.
    - ``scoring``: the one held-out scoring of every method, and the linear ceiling.
    - ``results``: the results files (written and read) and the run's summary, with the claim.
Layer 4
    - ``trials``: the trial folder format, its writer and its checked loader.
    - ``plotting``: Markdown score tables, the held-out prediction figure and the chapters' figures.
Layer 5
    - ``cohort``: the virtual cohort: subjects, trial plan, Moco ground truth, its home.
    - ``public_data``: the two Zenodo layouts read into trials, and their writers.
Layer 6
    - ``training``: a subject's data prepared and split; the NMM built, trained and evaluated.
    - ``own_data``: a user's recordings (``recordings.json``) converted to trial folders.
    - ``stand_ins``: cohort data written in the public layouts and as an own-data folder.
Layer 7
    - ``methods``: both methods side by side on a recording's prepared trials.
    - ``protocol``: the selection protocol of both methods (validation split, equal candidate
      budgets, early stopping), the NMM's seed ensemble and its ablations.
    - ``reproduce``: the runner: cohort, executed notebooks (fingerprinted by the code they
      import), peak memory, summary and book.
    - ``data_download``: the registry of downloads (pooch) and the data command line's logic.
Layer 8
    - ``benchmark``: timings and the benchmark measurements (the NMM trained as its chapter does).
    - ``data_download.zenodo``: the public recordings on Zenodo, fetched through pooch.
Layer 9
    - ``data_download.__main__``: ``python -m data_download``.
"""

__version__ = "0.1.0"

#: The layers above, lowest first: module names of ``nmm_core`` (bare) and of ``data_download``
#: (qualified). A name may be listed before its module exists (``tables`` is being written).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("paths", "files", "cpu", "sources"),
    ("config",),
    ("storage", "tables", "muscle", "signals", "metrics", "stats", "inference"),
    ("arm_model", "network", "synergy", "scoring", "results"),
    ("trials", "plotting"),
    ("cohort", "public_data"),
    ("training", "own_data", "stand_ins"),
    ("methods", "protocol", "reproduce", "data_download"),
    ("benchmark", "data_download.zenodo"),
    ("data_download.__main__",),
)
