"""Plotting conventions shared by the figure notebooks: regime colours, labels, line styles, and
the matplotlib settings every notebook applies first (:func:`apply`)."""

from __future__ import annotations

import zlib

#: One colour per regime (Okabe-Ito, colour-blind safe); SE(tau) curves have one key per tau.
REGIME_COLOURS: dict[str, str] = {
    "network": "#000000",  # the real ReLU network (black)
    "linearized": "#0072B2",  # sampled SGD of its linearization (blue)
    "se tau=1": "#D55E00",  # spectrally expressible approximation, tau = +1 (vermilion)
    "se tau=0": "#009E73",  # tau = 0 (green)
    "se tau=-1": "#CC79A7",  # tau = -1 (purple)
}
#: Colours of the spectrum figure: data and fitted theory lines.
DATA_COLOUR = "#0072B2"
FIT_COLOUR = "#D55E00"
ASYMPTOTE_COLOUR = "#7f7f7f"
DIVERGED_COLOUR = "#B2182B"
#: Line styles of SE(tau): tau = 1 solid, the others dashed / dotted.
SE_LINESTYLES: dict[float, str] = {1.0: "-", 0.0: "--", -1.0: ":"}
_EXTRA_COLOURS = ["#E69F00", "#56B4E9", "#F0E442", "#999999", "#882255"]
_EXTRA_STYLES = ["-.", (0, (5, 1, 1, 1)), (0, (1, 3))]

#: Matplotlib settings of every report figure: 200 dpi PNGs (sharp on high-density screens, a
#: few hundred kB each).  Legends get at least LEGEND_POINTS, whatever seaborn context is active.
RC_PARAMS = {"savefig.dpi": 200}
LEGEND_POINTS = 9.0


def _points(size) -> float:
    """A matplotlib font size ('small', 8.5, ...) in points."""
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=size).get_size_in_points()


def apply() -> None:
    """Use the report's figure settings; call it once, after any seaborn theme (which sets fonts)."""
    import matplotlib as mpl

    mpl.rcParams.update(RC_PARAMS)
    for key in ("legend.fontsize", "legend.title_fontsize"):
        size = mpl.rcParams[key]
        if size is None or _points(size) < LEGEND_POINTS:
            mpl.rcParams[key] = LEGEND_POINTS


def regime_key(regime: str, tau: float | None = None) -> str:
    """Key of :data:`REGIME_COLOURS` for a regime (and tau for SE), e.g. ``'se tau=-1'``."""
    if regime == "se":
        return f"se tau={float(tau):g}"
    return regime


def regime_colour(regime: str, tau: float | None = None) -> str:
    """The regime's colour; SE taus outside the palette get a stable extra colour."""
    key = regime_key(regime, tau)
    if key in REGIME_COLOURS:
        return REGIME_COLOURS[key]
    return _EXTRA_COLOURS[zlib.crc32(key.encode()) % len(_EXTRA_COLOURS)] if regime == "se" else "#444444"


def se_linestyle(tau: float):
    """Line style of SE(tau): tau = 1 solid, 0 dashed, -1 dotted, others dash-dot variants."""
    tau = float(tau)
    if tau in SE_LINESTYLES:
        return SE_LINESTYLES[tau]
    return _EXTRA_STYLES[int(round(abs(tau) * 7)) % len(_EXTRA_STYLES)]


def regime_label(regime: str, tau: float | None = None) -> str:
    """Legend text: 'network', 'linearized', 'SE τ=+1'."""
    if regime == "se":
        return f"SE τ={float(tau):+g}" if float(tau) != 0 else "SE τ=0"
    return {"linearized": "linearized"}.get(regime, regime)
