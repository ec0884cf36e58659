"""The gateway's business logic; routers and the CLI call these functions."""
