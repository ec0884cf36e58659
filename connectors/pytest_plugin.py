"""The conformance kit's pytest plugin: pytest rewrites the kit's asserts, so that a failed check shows the values
it compared, not a bare ``AssertionError``.

pytest rewrites the asserts of test modules and conftest files only; a library's module gets the same treatment
only if it is registered (:func:`pytest.register_assert_rewrite`) before it is imported. The distribution
registers this module as a plugin (the ``pytest11`` entry point in ``pyproject.toml``), which pytest loads at
start-up, before any test module imports :mod:`connectors.testing`. Where plugins are not loaded automatically
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD``), name it: ``pytest -p connectors.pytest_plugin``.
"""

from __future__ import annotations

import pytest

#: The modules whose asserts pytest rewrites.
REWRITTEN = ("connectors.testing",)

pytest.register_assert_rewrite(*REWRITTEN)
