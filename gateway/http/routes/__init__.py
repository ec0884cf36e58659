"""HTTP routers: parse the request, call a service, return a model. One module per resource."""
