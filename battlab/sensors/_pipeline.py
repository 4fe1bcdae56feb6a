"""One entry point per sensor kind, shared by the app and the command line."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from battlab.correlate.timeline import align_to_cycling
from battlab.errors import InvalidParameterError, MissingDataError
from battlab.sensors import acoustic, dilatometry, eqcm, stress  # noqa: F401  (submodules)
from battlab.sensors._io import KINDS

__all__ = ["analyze", "SensorResult", "DEFAULTS"]

#: Every option of :func:`analyze` with its default, per kind (None = must be given).
DEFAULTS = {
    "eqcm": {"f0_Hz": 5e6, "area_cm2": None, "overtone": None, "dissipation_threshold_per_Hz": 4e-7,
             "potential_step_V": 0.05},
    "dilatometry": {"initial_thickness_um": None},
    "stress": {"substrate_modulus_GPa": None, "substrate_poisson": None, "substrate_thickness_um": None,
               "film_thickness_nm": None, "distance_m": None, "incidence_angle_deg": 0.0,
               "reference_spacing": None, "thickness_expansion": 0.0},
    "acoustic": {"threshold_dB": 40.0, "preamp_gain_dB": 0.0, "hit_definition_time_s": 200e-6,
                 "hit_lockout_time_s": 1e-3, "sampling_rate_Hz": None, "n_clusters": 2, "min_amplitude_dB": None},
}
COMMON = {"clock_offset_s": 0.0, "time_basis": "test", "cell_type": "auto"}


@dataclass
class SensorResult:
    """Tables from one analysis: ``aligned`` (one row per sample or hit, on the cycling
    timeline), ``cycles`` (one row per cycle), optional extra tables, and messages."""

    kind: str
    aligned: pd.DataFrame
    cycles: pd.DataFrame
    extra: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    parameters: dict = field(default_factory=dict)

    def tables(self) -> dict:
        return {"aligned": self.aligned, "cycles": self.cycles, **self.extra}


def analyze(kind: str, sensor: pd.DataFrame, echem: pd.DataFrame | None = None, **options) -> SensorResult:
    """Align a sensor table on the cycling and run the analysis of its ``kind``.

    Options are those of :data:`DEFAULTS` for the kind plus ``clock_offset_s``,
    ``time_basis`` and ``cell_type``; unknown options raise
    :class:`~battlab.errors.InvalidParameterError`.
    """
    if kind not in KINDS:
        raise InvalidParameterError(f"kind must be one of {list(KINDS)}, not {kind!r}.")
    allowed = {**COMMON, **DEFAULTS[kind]}
    unknown = set(options) - set(allowed)
    if unknown:
        raise InvalidParameterError(f"unknown {kind} option(s) {sorted(unknown)}; known: {sorted(allowed)}.")
    p = {**allowed, **{k: v for k, v in options.items() if v is not None}}
    if kind != "acoustic" and echem is None and not {"voltage_V", "current_A"} <= set(sensor.columns):
        # Said first: without the cycler there is nothing to analyse, whatever the inputs.
        raise MissingDataError("no cycling data to align with: give the cycler file (--echem / the cycling "
                               "upload) or a sensor file that also logs potential and current.")
    messages: list[str] = []
    extra: dict = {}
    align_kw = dict(clock_offset_s=p["clock_offset_s"], time_basis=p["time_basis"], cell_type=p["cell_type"])

    def _align(table):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = align_to_cycling(table, echem, **align_kw)
        messages.extend(str(w.message) for w in caught)
        return out

    if kind == "eqcm":
        if p["area_cm2"] is None:
            raise InvalidParameterError("enter the electrode area on the crystal (cm²): every mass scales with it.")
        if p["overtone"] is None:
            p["overtone"] = sensor.attrs.get("battlab", {}).get("overtone") or 1
        aligned = eqcm.eqcm_mass(_align(sensor), f0_Hz=p["f0_Hz"], area_cm2=p["area_cm2"], overtone=p["overtone"])
        check = eqcm.dissipation_check(aligned, threshold_per_Hz=p["dissipation_threshold_per_Hz"],
                                       overtone=p["overtone"])
        spread = eqcm.overtone_spread(aligned)
        check["overtones"] = spread["overtones"]
        check["overtone_spread"] = spread["median_spread"]
        if spread["median_spread"] is not None and spread["median_spread"] > 0.05:
            check["message"] += (f" Δf_n/n differs by {100 * spread['median_spread']:.0f} % between overtones "
                                 f"{spread['overtones']}: another viscoelastic warning.")
        messages.append(check["message"])
        cycles = eqcm.mass_per_electron(aligned, by="half_cycle")
        extra["mpe_vs_potential"] = eqcm.mass_per_electron(aligned, by="potential",
                                                           potential_step_V=p["potential_step_V"])
        extra["rigidity_check"] = pd.DataFrame([check])
    elif kind == "dilatometry":
        aligned = dilatometry.relative_thickness_change(_align(sensor), initial_thickness_um=p["initial_thickness_um"])
        cycles = dilatometry.summarize_dilatometry(aligned)
    elif kind == "stress":
        for name in ("substrate_modulus_GPa", "substrate_poisson", "substrate_thickness_um", "film_thickness_nm"):
            if p[name] is None:
                raise InvalidParameterError(f"Stoney's equation needs {name}; there is no default.")
        aligned = stress.film_stress(_align(sensor), substrate_modulus_GPa=p["substrate_modulus_GPa"],
                                     substrate_poisson=p["substrate_poisson"],
                                     substrate_thickness_um=p["substrate_thickness_um"],
                                     film_thickness_nm=p["film_thickness_nm"], distance_m=p["distance_m"],
                                     incidence_angle_deg=p["incidence_angle_deg"],
                                     reference_spacing=p["reference_spacing"],
                                     thickness_expansion=p["thickness_expansion"])
        cycles = stress.summarize_stress(aligned)
    else:
        if "amplitude_V" in sensor:
            fs, t0 = (p["sampling_rate_Hz"], float(sensor["sensor_time_s"].iloc[0])) if p["sampling_rate_Hz"] \
                else acoustic.waveform_sampling(sensor)
            hits = acoustic.detect_hits(sensor["amplitude_V"].to_numpy(), sampling_rate_Hz=fs, start_time_s=t0,
                                        threshold_dB=p["threshold_dB"], preamp_gain_dB=p["preamp_gain_dB"],
                                        hit_definition_time_s=p["hit_definition_time_s"],
                                        hit_lockout_time_s=p["hit_lockout_time_s"])
            hits.attrs["battlab"] = {**sensor.attrs.get("battlab", {}), **hits.attrs.get("battlab", {})}
            messages.append(f"{len(hits)} hits detected above {p['threshold_dB']:g} dB_AE in "
                            f"{len(sensor):,} samples.")
            for col in ("voltage_V", "current_A", "unix_time_s"):
                if col in sensor and len(hits):
                    hits[col] = sensor[col].to_numpy()[hits["start_sample"].to_numpy()]
        else:
            hits = sensor.copy()
            if p["min_amplitude_dB"] is None:
                p["min_amplitude_dB"] = p["threshold_dB"]
        if p["min_amplitude_dB"] is not None and "amplitude_dB" in hits:
            hits = hits.loc[hits["amplitude_dB"] >= p["min_amplitude_dB"]].reset_index(drop=True)
        if hits.empty:
            raise MissingDataError("no acoustic-emission hits above the threshold; lower the threshold.")
        try:
            hits = acoustic.cluster_hits(hits, n_clusters=int(p["n_clusters"]))
        except MissingDataError as exc:
            messages.append(f"hit types not clustered: {exc}")
        try:
            aligned = acoustic.cumulative_hits(_align(hits))
            cycles = acoustic.summarize_hits(aligned)
        except MissingDataError as exc:
            if echem is not None or {"voltage_V", "current_A"} <= set(hits.columns):
                raise
            # A waveform or hit list without cycling data still has hits worth showing.
            messages.append(f"not aligned on cycling: {exc}")
            aligned = acoustic.cumulative_hits(hits)
            cycles = pd.DataFrame(columns=["cycle", "direction", "n_hits", "energy_aJ", "mean_amplitude_dB"])
    return SensorResult(kind=kind, aligned=aligned, cycles=cycles, extra=extra, messages=messages, parameters=p)
