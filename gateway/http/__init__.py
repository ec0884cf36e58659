"""The HTTP API: the app factory, the running state, typed dependencies, middleware and one route module per
resource."""
