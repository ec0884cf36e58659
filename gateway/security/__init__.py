"""Keys, client secrets and tokens."""
