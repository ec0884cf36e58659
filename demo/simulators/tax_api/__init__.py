"""The simulated tax authority REST API: taxpayers' registration status.

Its taxpayers (:func:`build_taxpayers`) are the enterprises of :mod:`simulators.enterprises` and the earning
citizens of :mod:`simulators.population`, consistent with the business registry and Vietnam Social Security;
:class:`TaxApi` serves them in the authority's own JSON dialect behind a bearer token, able to misbehave; :data:`TAX`
is the sector system the demo starts.
"""

from .app import DEFAULT_AUTH, MAX_PAGE_SIZE, TaxApi
from .records import STATUSES, build_taxpayers, tax_office

__all__ = ["DEFAULT_AUTH", "MAX_PAGE_SIZE", "STATUSES", "TaxApi", "build_taxpayers", "tax_office"]
