"""The generic REST connector: serve a contract from a JSON sector API, configured without code.

See :class:`RestConnectorConfig` for every setting (authentication schemes, endpoints, pagination styles,
JMESPath field mapping, retries, TLS) and :class:`RestConnector` for how calls are made.
"""

from .config import RestConnectorConfig
from .connector import RestConnector

__all__ = ["RestConnector", "RestConnectorConfig"]
