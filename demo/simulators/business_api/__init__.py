"""The simulated national business registry REST API (Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp).

It publishes the enterprises of :mod:`simulators.enterprises` (founded by the synthetic citizens of
:mod:`simulators.population`) in its own JSON dialect, behind an API key, able to misbehave; :data:`BUSINESS` is the
sector system the demo starts.
"""

from .app import DEFAULT_AUTH, MAX_PAGE_SIZE, BusinessApi
from .records import STATUSES, to_api

__all__ = ["DEFAULT_AUTH", "MAX_PAGE_SIZE", "STATUSES", "BusinessApi", "to_api"]
