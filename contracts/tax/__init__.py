"""Contracts of the tax authority's taxpayer register (General Department of Taxation, now the Tax Department)."""

from contracts.tax.taxpayer_v1 import (
    TaxOffice,
    Taxpayer,
    TaxpayerCode,
    TaxpayerQuery,
    TaxpayerStatus,
    TaxpayerType,
)

__all__ = ["TaxOffice", "Taxpayer", "TaxpayerCode", "TaxpayerQuery", "TaxpayerStatus", "TaxpayerType"]
