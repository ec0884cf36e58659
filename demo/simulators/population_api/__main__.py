"""``python -m simulators.population_api``: serve the simulated population API in the foreground."""

from .server import main

main()
