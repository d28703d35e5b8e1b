"""Operators of an ansatz ``u = g + phi * M`` from those of g, phi (exact) and M (any engine).

Per coordinate i (and likewise in t):

    u_i   = g_i + phi_i M + phi M_i
    u_ii  = g_ii + phi_ii M + 2 phi_i M_i + phi M_ii
    lap u = lap g + lap phi M + 2 grad phi . grad M + phi lap M
"""

from jaxtyping import Array

_SECOND_SPACE = frozenset({"u_x", "u_xx", "lap_u"})


def expanded_needs(needs: frozenset[str]) -> frozenset[str]:
    """The operators of phi and M that the product rule needs for ``needs`` of u."""
    out = set(needs) | {"u"}
    if needs & _SECOND_SPACE:
        out.add("u_x")
    if "u_tt" in needs:
        out.add("u_t")
    return frozenset(out)


def product_rule(
    base: dict[str, Array], factor: dict[str, Array], net: dict[str, Array], needs: frozenset[str]
) -> dict[str, Array]:
    """``{name: values}`` of u for ``needs`` (shapes as in OPERATOR_SHAPES); ``base`` holds g's
    operators for ``needs``, ``factor`` and ``net`` those of phi and M for ``expanded_needs(needs)``."""
    g, p, m = base, factor, net
    out: dict[str, Array] = {}
    if "u" in needs:
        out["u"] = g["u"] + p["u"] * m["u"]
    if "u_x" in needs:
        out["u_x"] = g["u_x"] + p["u_x"] * m["u"][:, None] + p["u"][:, None] * m["u_x"]
    if "u_xx" in needs:
        out["u_xx"] = g["u_xx"] + p["u_xx"] * m["u"][:, None] + 2 * p["u_x"] * m["u_x"] + p["u"][:, None] * m["u_xx"]
    if "lap_u" in needs:
        cross = (p["u_x"] * m["u_x"]).sum(axis=1)
        out["lap_u"] = g["lap_u"] + p["lap_u"] * m["u"] + 2 * cross + p["u"] * m["lap_u"]
    if "u_t" in needs:
        out["u_t"] = g["u_t"] + p["u_t"] * m["u"] + p["u"] * m["u_t"]
    if "u_tt" in needs:
        out["u_tt"] = g["u_tt"] + p["u_tt"] * m["u"] + 2 * p["u_t"] * m["u_t"] + p["u"] * m["u_tt"]
    return out
