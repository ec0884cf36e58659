"""The judicial records database connector (Cơ sở dữ liệu lý lịch tư pháp): a configuration of the SOAP one."""

from .config import JudicialRecordsConfig
from .connector import JudicialRecordsConnector

__all__ = ["JudicialRecordsConfig", "JudicialRecordsConnector"]
