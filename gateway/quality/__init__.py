"""Data quality of the national databases: correct, complete, clean, live (đúng, đủ, sạch, sống).

* :mod:`.rules`: dimensions, outcomes, the context rules see, raw-value helpers;
* :mod:`.generic`, :mod:`.clean`, :mod:`.domain`: the rules, and the rule set of each contract (:func:`rules_for`,
  :func:`rules_for_database`), with what each contract package declares (:mod:`.declared`);
* :mod:`.evaluate`: counts per rule and dimension over a batch of records, the worst records;
* :mod:`.storage`, :mod:`.service`: scores kept per database and source (``scan``, ``submitted``), the sampled scan,
  the entry point of submitted records (:func:`record_submitted`), the metrics snapshot;
* :mod:`.report`, :mod:`.html`: the report, as JSON or as an HTML page for officials.
"""

from gateway.quality.domain import rules_for, rules_for_database
from gateway.quality.rules import Dimension
from gateway.quality.service import record_submitted, scan_database

__all__ = ["Dimension", "record_submitted", "rules_for", "rules_for_database", "scan_database"]
