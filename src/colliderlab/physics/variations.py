"""Generator variations for systematic uncertainties: the parton shower and its scales, Lund string.

Pythia 8.317 ships two parton showers (``PartonShowers:model``): the default pT-ordered dipole
shower ("simple", arXiv:1410.3012) and the Vincia antenna shower ("vincia", arXiv:2003.00702).
Dire was removed in 8.316. A *variation* changes one aspect of the generator relative to the
nominal set-up of either shower:

* ``fsr-up`` / ``fsr-down``, ``isr-up`` / ``isr-down``: the renormalisation scale of alpha_s in
  final- (initial-) state radiation multiplied by 2 (0.5), the customary scale variation
  (arXiv:1605.08352). Pythia's ``renormMultFac`` settings multiply the scale *squared*, so they
  are set to 4 (0.25); for Vincia every emission and splitting kernel's factor is varied.
* ``lund-a-up`` / ``lund-a-down``, ``lund-b-up`` / ``lund-b-down``: the Lund symmetric
  fragmentation function's a and b (arXiv:1404.5630, Monash: a = 0.68, b = 0.98) shifted by
  +-0.1, an illustrative range of the size of their tuning uncertainty.

The variation applies to the hard process's event; overlaid pileup events keep the default
settings. Both showers hand over to the same Lund string hadronisation, so the shower-vs-shower spread
understates the usual Pythia-vs-Herwig (string vs cluster hadronisation) difference; no other
generator is installable here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SHOWERS", "VARIATIONS", "Variation", "check_shower", "get_variation", "shower_settings"]

# Shower name -> Pythia's PartonShowers:model.
SHOWERS: dict[str, int] = {"simple": 1, "vincia": 2}
# Monash tune values of the Lund fragmentation function (arXiv:1404.5630).
_A_LUND, _B_LUND = 0.68, 0.98
_LUND_STEP = 0.1


@dataclass(frozen=True)
class Variation:
    """One generator variation.

    Attributes:
        name: registry key.
        description: what it changes, in words.
        fsr_mu_r, isr_mu_r: factors on the renormalisation scale mu_R of FSR / ISR (not squared).
        a_lund, b_lund: Lund a and b (None: the tune's value).
    """

    name: str
    description: str
    fsr_mu_r: float = 1.0
    isr_mu_r: float = 1.0
    a_lund: float | None = None
    b_lund: float | None = None

    def settings(self, shower: str) -> list[str]:
        """Pythia ``readString`` lines for this variation under ``shower``."""
        check_shower(shower)
        out: list[str] = []
        if shower == "simple":
            if self.fsr_mu_r != 1.0:
                out.append(f"TimeShower:renormMultFac = {self.fsr_mu_r ** 2:g}")
            if self.isr_mu_r != 1.0:
                out.append(f"SpaceShower:renormMultFac = {self.isr_mu_r ** 2:g}")
        else:
            if self.fsr_mu_r != 1.0:
                out += [f"Vincia:renormMultFac{k}F = {self.fsr_mu_r ** 2:g}" for k in ("Emit", "Split")]
            if self.isr_mu_r != 1.0:
                out += [f"Vincia:renormMultFac{k}I = {self.isr_mu_r ** 2:g}" for k in ("Emit", "Split", "Conv")]
        if self.a_lund is not None:
            out.append(f"StringZ:aLund = {self.a_lund:g}")
        if self.b_lund is not None:
            out.append(f"StringZ:bLund = {self.b_lund:g}")
        return out


VARIATIONS: dict[str, Variation] = {
    v.name: v
    for v in (
        Variation("nominal", "the shower's default settings"),
        Variation("fsr-up", "final-state radiation mu_R x 2", fsr_mu_r=2.0),
        Variation("fsr-down", "final-state radiation mu_R x 0.5", fsr_mu_r=0.5),
        Variation("isr-up", "initial-state radiation mu_R x 2", isr_mu_r=2.0),
        Variation("isr-down", "initial-state radiation mu_R x 0.5", isr_mu_r=0.5),
        Variation("lund-a-up", f"Lund a = {_A_LUND + _LUND_STEP:g}", a_lund=_A_LUND + _LUND_STEP),
        Variation("lund-a-down", f"Lund a = {_A_LUND - _LUND_STEP:g}", a_lund=_A_LUND - _LUND_STEP),
        Variation("lund-b-up", f"Lund b = {_B_LUND + _LUND_STEP:g}", b_lund=_B_LUND + _LUND_STEP),
        Variation("lund-b-down", f"Lund b = {_B_LUND - _LUND_STEP:g}", b_lund=_B_LUND - _LUND_STEP),
    )
}


def check_shower(name: str) -> str:
    """``name`` if it is a known shower; otherwise a ValueError listing the valid ones."""
    if name not in SHOWERS:
        hint = " (Dire was removed from Pythia in 8.316)" if str(name).lower() == "dire" else ""
        raise ValueError(f"unknown parton shower {name!r}{hint}; valid showers: {', '.join(SHOWERS)}")
    return name


def get_variation(name: str) -> Variation:
    """The registered variation ``name``; a ValueError lists the valid ones."""
    try:
        return VARIATIONS[name]
    except KeyError:
        raise ValueError(f"unknown generator variation {name!r}; valid variations: {', '.join(VARIATIONS)}") from None


def shower_settings(shower: str, variation: str = "nominal") -> list[str]:
    """Pythia lines selecting ``shower`` and applying ``variation`` (Vincia's banner silenced)."""
    check_shower(shower)
    lines = [f"PartonShowers:model = {SHOWERS[shower]}"]
    if shower == "vincia":
        lines.append("Print:verbosity = 0")
    return lines + get_variation(variation).settings(shower)
