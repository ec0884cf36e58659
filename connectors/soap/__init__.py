"""The generic SOAP connector: serve a contract from a WSDL-described sector service, configured without code.

See :class:`SoapConnectorConfig` for every setting (WSDL, service and port, operations and their argument
templates, XPath or zeep mapping, WS-Security and HTTP authentication, retries, TLS) and :class:`SoapConnector`
for how calls are made.
"""

from .config import SoapConnectorConfig
from .connector import SoapConnector

__all__ = ["SoapConnector", "SoapConnectorConfig"]
