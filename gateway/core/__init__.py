"""What every feature shares: settings, the database, logs, metrics, problems, leases, listeners, tracing."""
