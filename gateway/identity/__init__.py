"""Identity: who calls and what they may do. Clients, grants, keys, tokens, live access and rate limits."""
