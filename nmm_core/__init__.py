"""nmm_core: the thin library behind the NMM book.

Modules, lowest layer first (lower layers never import higher ones):
``config`` (subjects, constants, paths) -> ``storage`` (.sto/.mot files) and ``muscle``
(differentiable Hill-type physics) -> ``arm_model`` (OpenSim model, geometry, inverse
dynamics) -> ``reproduce`` (the runner). Importing the package imports none of them, so
``nmm_core.storage`` and the NumPy path of ``nmm_core.muscle`` work without TensorFlow.
"""

__version__ = "0.1.0"
