"""Records: the served national databases (the connector registry) and reading their records."""
