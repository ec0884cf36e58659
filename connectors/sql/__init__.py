"""The generic SQL connector: serve a contract from a table or view of any SQLAlchemy-supported database."""

from .config import SearchFilter, SqlConnectorConfig
from .connector import SqlConnector
from .mapping import RowMapper

__all__ = ["RowMapper", "SearchFilter", "SqlConnector", "SqlConnectorConfig"]
