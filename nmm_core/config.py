"""Constants of the arm model and the subject record.

Everything a user may want to change about a subject lives in :class:`Subject`, a small
immutable record validated when it is made. The nominal muscle and body properties are those
of OpenSim's ``arm26`` model (Holzbaur et al. 2005, distributed with OpenSim under CC BY 3.0),
as listed in ``shared/reference/method.md``.
"""

from __future__ import annotations

import dataclasses
import math
from types import MappingProxyType
from typing import Mapping

# The folders are defined in nmm_core.paths (outside the cohort's fingerprint); the names stay
# reachable here because notebooks and callers use config.results_dir() and config.REPO_ROOT.
from .paths import REPO_ROOT, data_dir, results_dir  # noqa: F401


# --------------------------------------------------------------------------------------------
# Muscles.
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class MuscleProperties:
    """Nominal Hill-type properties of one musculotendon unit (SI units).

    Attributes
    ----------
    max_isometric_force : float
        Peak active fiber force at optimal length and zero velocity, N.
    optimal_fiber_length : float
        Fiber length at which active force peaks, m.
    tendon_slack_length : float
        Tendon length below which the tendon carries no force, m.
    pennation_angle_at_optimal : float
        Angle between fibers and tendon at optimal fiber length, rad.
    """

    max_isometric_force: float
    optimal_fiber_length: float
    tendon_slack_length: float
    pennation_angle_at_optimal: float


#: The six arm26 muscles, in the order used by every array in the package.
MUSCLE_NAMES: tuple[str, ...] = ("TRIlong", "TRIlat", "TRImed", "BIClong", "BICshort", "BRA")
#: Surface muscles (recorded with surface EMG) and deep muscles (to be estimated).
SURFACE_MUSCLES: tuple[str, ...] = ("BIClong", "BICshort", "TRIlong", "TRIlat")
DEEP_MUSCLES: tuple[str, ...] = ("BRA", "TRImed")


def hidden_muscles(hidden=DEEP_MUSCLES) -> tuple[str, ...]:
    """Check a set of hidden muscles (those a method must estimate): the deep muscles, plus any
    surface muscles hidden for a leave-one-channel-out test; returned in the given order."""
    hidden = tuple(hidden)
    unknown = [m for m in hidden if m not in MUSCLE_NAMES]
    if unknown or len(set(hidden)) != len(hidden):
        raise ValueError(f"hidden muscles {list(hidden)} must be distinct names from {list(MUSCLE_NAMES)}.")
    missing = [m for m in DEEP_MUSCLES if m not in hidden]
    if missing:
        raise ValueError(f"hidden muscles must include the deep muscles {list(DEEP_MUSCLES)} (no surface EMG "
                         f"exists for them); {missing} are missing.")
    if len(hidden) == len(MUSCLE_NAMES):
        raise ValueError("at least one surface muscle must stay measured.")
    return hidden


def excitation_order(hidden=DEEP_MUSCLES) -> tuple[int, ...]:
    """Indices that put ``concatenate([surface (SURFACE_MUSCLES order), hidden])`` into
    MUSCLE_NAMES order, a hidden muscle's estimate replacing its surface column."""
    hidden = hidden_muscles(hidden)
    return tuple(len(SURFACE_MUSCLES) + hidden.index(m) if m in hidden else SURFACE_MUSCLES.index(m)
                 for m in MUSCLE_NAMES)
FLEXORS: tuple[str, ...] = ("BIClong", "BICshort", "BRA")
EXTENSORS: tuple[str, ...] = ("TRIlong", "TRIlat", "TRImed")

ARM26_MUSCLES: Mapping[str, MuscleProperties] = MappingProxyType(
    {
        "TRIlong": MuscleProperties(798.52, 0.1340, 0.1430, 0.20944),
        "TRIlat": MuscleProperties(624.30, 0.1138, 0.0980, 0.15708),
        "TRImed": MuscleProperties(624.30, 0.1138, 0.0908, 0.15708),
        "BIClong": MuscleProperties(624.30, 0.1157, 0.2723, 0.0),
        "BICshort": MuscleProperties(435.56, 0.1321, 0.1923, 0.0),
        "BRA": MuscleProperties(987.26, 0.0858, 0.0535, 0.0),
    }
)

#: Thelen 2003 settings shared by the arm26 muscles.
MAX_CONTRACTION_VELOCITY = 10.0  # optimal fiber lengths per second
ACTIVATION_TIME_CONSTANT = 0.010  # s
DEACTIVATION_TIME_CONSTANT = 0.040  # s

# --------------------------------------------------------------------------------------------
# Segments (arm26 forearm+hand; the humerus only matters for shoulder torques).
# --------------------------------------------------------------------------------------------
FOREARM_MASS = 1.534315  # kg, forearm + hand
FOREARM_CENTER_OF_MASS = 0.181479  # m from the elbow axis along the forearm
FOREARM_INERTIA_ZZ = 0.020062  # kg m^2 about the centre of mass, flexion axis
FOREARM_INERTIA_XX = 0.019281  # kg m^2, axes that a planar elbow never excites
FOREARM_INERTIA_YY = 0.001571
HUMERUS_MASS = 1.864572  # kg
HUMERUS_CENTER_OF_MASS = 0.180496  # m below the shoulder
HUMERUS_INERTIA = (0.01481, 0.004551, 0.013193)  # kg m^2 about the centre of mass
HUMERUS_LENGTH = 0.2904  # m, shoulder centre to elbow axis
#: Distance from the elbow axis to the centre of a load held in the hand (a decision of this
#: project: forearm ~0.27 m plus half a hand; the paper does not state it).
HAND_LOAD_DISTANCE = 0.32  # m
GRAVITY = 9.80665  # m/s^2

ELBOW_RANGE = (0.0, 2.2689)  # rad, full extension to full flexion
SHOULDER_RANGE = (-math.pi / 2, math.pi)  # rad; 0 = upper arm hanging, pi = overhead

# Physiological bounds of the subject record (wide on purpose: they catch typing errors).
_SCALE_BOUNDS = (0.5, 2.0)


def _check_scale(name: str, value: float, bounds=_SCALE_BOUNDS) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"Subject field {name!r} must be a number, got {type(value).__name__}.")
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"Subject field {name!r} must be a positive finite number, got {value!r}: "
            "scales multiply the nominal arm26 value (1.0 = nominal)."
        )
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(
            f"Subject field {name!r} = {value!r} is outside the physiological range "
            f"[{low}, {high}] for a scale factor; use a value near 1.0."
        )
    return value


def _check_per_muscle(name: str, mapping: Mapping[str, float]) -> Mapping[str, float]:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"Subject field {name!r} must map muscle names to numbers.")
    unknown = sorted(set(mapping) - set(MUSCLE_NAMES))
    if unknown:
        raise ValueError(
            f"Subject field {name!r} names unknown muscles {unknown}; "
            f"expected a subset of {list(MUSCLE_NAMES)}."
        )
    checked = {m: _check_scale(f"{name}[{m!r}]", mapping.get(m, 1.0)) for m in MUSCLE_NAMES}
    return MappingProxyType(checked)


@dataclasses.dataclass(frozen=True)
class Subject:
    """One subject's anthropometry and muscle scales relative to arm26.

    Every field is a dimensionless multiplier of the nominal arm26 value, except ``name``.
    Per-muscle fields accept a partial mapping; missing muscles default to 1.0.

    Attributes
    ----------
    name : str
        Identifier used in file names (letters, digits, ``-`` and ``_``).
    segment_length_scale : float
        Scales humerus and forearm lengths, muscle attachment points, optimal fiber lengths and
        tendon slack lengths (as OpenSim's scale tool keeps their ratios).
    forearm_mass_scale : float
        Scales forearm+hand mass (its inertia also scales with length squared).
    max_isometric_force_scale : Mapping[str, float]
        Per-muscle strength.
    optimal_fiber_length_scale, tendon_slack_length_scale : Mapping[str, float]
        Per-muscle architecture, applied on top of ``segment_length_scale``.
    """

    name: str = "nominal"
    segment_length_scale: float = 1.0
    forearm_mass_scale: float = 1.0
    max_isometric_force_scale: Mapping[str, float] = dataclasses.field(default_factory=dict)
    optimal_fiber_length_scale: Mapping[str, float] = dataclasses.field(default_factory=dict)
    tendon_slack_length_scale: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or not all(
            c.isalnum() or c in "-_" for c in self.name
        ):
            raise ValueError(
                f"Subject field 'name' must be a non-empty string of letters, digits, '-' or "
                f"'_' (it is used in file names), got {self.name!r}."
            )
        set_ = object.__setattr__  # the record is frozen; normalise once, here
        set_(self, "segment_length_scale", _check_scale("segment_length_scale", self.segment_length_scale, (0.7, 1.4)))
        set_(self, "forearm_mass_scale", _check_scale("forearm_mass_scale", self.forearm_mass_scale))
        for field in ("max_isometric_force_scale", "optimal_fiber_length_scale", "tendon_slack_length_scale"):
            set_(self, field, _check_per_muscle(field, getattr(self, field)))

    # Derived quantities: computed, never stored, so they cannot disagree with the scales.
    def muscle(self, name: str) -> MuscleProperties:
        """Properties of muscle ``name`` for this subject (SI units)."""
        if name not in ARM26_MUSCLES:
            raise KeyError(f"Unknown muscle {name!r}; expected one of {list(MUSCLE_NAMES)}.")
        nominal = ARM26_MUSCLES[name]
        s = self.segment_length_scale
        return MuscleProperties(
            max_isometric_force=nominal.max_isometric_force * self.max_isometric_force_scale[name],
            optimal_fiber_length=nominal.optimal_fiber_length * s * self.optimal_fiber_length_scale[name],
            tendon_slack_length=nominal.tendon_slack_length * s * self.tendon_slack_length_scale[name],
            pennation_angle_at_optimal=nominal.pennation_angle_at_optimal,
        )

    @property
    def forearm_mass(self) -> float:
        """Forearm+hand mass, kg."""
        return FOREARM_MASS * self.forearm_mass_scale

    @property
    def forearm_center_of_mass(self) -> float:
        """Distance of the forearm+hand centre of mass from the elbow axis, m."""
        return FOREARM_CENTER_OF_MASS * self.segment_length_scale

    @property
    def forearm_inertia_zz(self) -> float:
        """Forearm+hand moment of inertia about its centre of mass (flexion axis), kg m^2."""
        return FOREARM_INERTIA_ZZ * self.forearm_mass_scale * self.segment_length_scale**2

    @property
    def hand_load_distance(self) -> float:
        """Distance of a hand-held load from the elbow axis, m."""
        return HAND_LOAD_DISTANCE * self.segment_length_scale

    @property
    def humerus_length(self) -> float:
        """Shoulder centre to elbow axis, m."""
        return HUMERUS_LENGTH * self.segment_length_scale


NOMINAL_SUBJECT = Subject()

#: The virtual cohort generator's motor-control models (:mod:`nmm_core.cohort`), the first the
#: default: each names a cohort variant.
MOTOR_CONTROLS = ("min_effort", "thresholds")

#: How many subjects a quick run takes through each cohort variant other than the default: the
#: first (in the cohort's order). The variant's issue lets the quick run skip it; one subject
#: keeps its whole path (the cohort variant generated for it, chapter, results files, regime
#: table) checked by ``make test``.
QUICK_VARIANT_SUBJECTS = 1


def variant_subjects(variant: str, subjects, quick: bool) -> list[str]:
    """The subjects of ``subjects`` (the cohort's, in its order) whose methods a run of this mode
    trains on cohort ``variant`` (one of :data:`MOTOR_CONTROLS`), and for whom it generates that
    cohort: every one in full mode and on the default cohort, the first
    :data:`QUICK_VARIANT_SUBJECTS` on the other variants in quick mode."""
    if variant not in MOTOR_CONTROLS:
        raise ValueError(f"unknown cohort variant {variant!r}; variants are {', '.join(MOTOR_CONTROLS)}.")
    subjects = list(subjects)
    return subjects[:QUICK_VARIANT_SUBJECTS] if quick and variant != MOTOR_CONTROLS[0] else subjects
