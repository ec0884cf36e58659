"""Contracts of the national business registration database (Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp)."""

from contracts.business.enterprise_v1 import Branch, Enterprise, EnterpriseQuery, EnterpriseStatus, EnterpriseType

__all__ = ["Branch", "Enterprise", "EnterpriseQuery", "EnterpriseStatus", "EnterpriseType"]
