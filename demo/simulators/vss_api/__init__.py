"""The simulated Vietnam Social Security REST API: social insurance participants and health insurance cards.

Its records (:func:`build_vss_records`) derive from the synthetic citizens of :mod:`simulators.population` and the
enterprises of :mod:`simulators.enterprises`; :class:`VssApi` serves them in the system's own JSON dialect behind
OAuth 2.0 client credentials, able to misbehave; :data:`SOCIAL_INSURANCE` and :data:`HEALTH_INSURANCE` are the
sector systems the demo starts.
"""

from .app import DEFAULT_AUTH, MAX_PAGE_SIZE, VssApi
from .records import VssRecords, build_vss_records, card_status

__all__ = ["DEFAULT_AUTH", "MAX_PAGE_SIZE", "VssApi", "VssRecords", "build_vss_records", "card_status"]
