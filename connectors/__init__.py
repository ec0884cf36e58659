"""Connectors adapt sector systems to the gateway's contracts; the SDK is :mod:`connectors.base`."""
