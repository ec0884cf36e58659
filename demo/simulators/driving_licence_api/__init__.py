"""A simulated REST API of the national driving licence database (Cơ sở dữ liệu giấy phép lái xe).

It publishes the licences of the citizens of :mod:`simulators.population` in its own JSON shape and code lists,
behind an API key, with numbered pages, wrapped in the :class:`~simulators.http.Misbehaving` middleware so that
tests can make it slow, failing, malformed or hanging. Serve it with :class:`~simulators.http.SimulatorServer`.
"""

from .app import DEFAULT_AUTH, MAX_PAGE_SIZE, DrivingLicenceApi
from .records import GENDERS, STATUSES, generate_licences
from .system import DRIVING_LICENCES, driving_licence_api

__all__ = [
    "DEFAULT_AUTH",
    "DRIVING_LICENCES",
    "GENDERS",
    "MAX_PAGE_SIZE",
    "STATUSES",
    "DrivingLicenceApi",
    "driving_licence_api",
    "generate_licences",
]
