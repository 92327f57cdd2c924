"""The audit: every rule over a requirement set, against one host or several (``run``), and what
it returns (``result``). What the rules read lives with them, in ``envdoctor.rules``."""
