"""The tamper-evident audit trail: every exchange, allowed or refused, as a hash-chained event.

* :mod:`.events`: the event, its canonical serialisation and hash, the data subjects it touched;
* :mod:`.capture`: the ASGI hook that holds each audited response until its event is committed;
* :mod:`.writer`: the per-process group-commit writer that appends batches to the chain (and seals it);
* :mod:`.storage`: the tables, the head lock, and the connections that write (serialised) and read (snapshots);
* :mod:`.seals`: signatures of the chain head by the gateway's key;
* :mod:`.verify`: checking the whole chain, its index of data subjects, its head and its seals;
* :mod:`.query`: filtered, keyset-paginated reading of the trail.
"""
