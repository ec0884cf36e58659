"""The quality rules contract packages declare (:class:`contracts.quality.QualityRules`), found through the
entry-point group ``gateway.quality_rules``, as connectors are found through ``gateway.connectors``.

The entry point's name is the contract's name. A broken declaration (it fails to import, it is not a
``QualityRules``, it names another contract) is logged and left out: the contract keeps its generic rules. So is a
contract whose rules two installed distributions declare with different targets: which one judges the data must be
the operator's choice, never the order in which the distributions happen to be found.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint

from connectors.discovery import entry_point_origin, registrations
from contracts.quality import ENTRY_POINT_GROUP, QualityRules
from gateway.core.logs import get_logger

__all__ = ["declared_rules"]

log = get_logger(__name__)


def _load(ep: EntryPoint) -> QualityRules:
    found = ep.load()
    if not isinstance(found, QualityRules):
        raise TypeError(f"{ep.value} is not a contracts.quality.QualityRules")
    if found.contract_name != ep.name:
        raise TypeError(f"{ep.value} declares the rules of {found.contract_name!r}, not of {ep.name!r}")
    return found


@cache
def declared_rules() -> dict[str, QualityRules]:
    """Contract name -> the quality rules its package declares (loaded once)."""
    declared: dict[str, QualityRules] = {}
    for name, targets in registrations(ENTRY_POINT_GROUP).items():
        if len(targets) > 1:
            log.error(
                "quality rules declared by more than one installed distribution; none loaded, the contract keeps "
                "its generic rules: uninstall one of them, or rename its entry point",
                contract=name,
                declared_by="; ".join(sorted(entry_point_origin(ep) for ep in targets.values())),
            )
            continue
        (ep,) = targets.values()
        try:
            declared[ep.name] = _load(ep)
        except Exception as exc:  # a plugin may fail in any way; it must not take the gateway down
            log.error("quality rules failed to load", contract=ep.name, target=ep.value, error=f"{exc}")
    return declared
