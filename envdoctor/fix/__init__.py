"""``envdoctor audit --fix`` and ``--diff``: the audit's fixes written into the files they came from.

The rules turn each fix they compute into structured edits (``findings.Edit``, by
``rules/edits.py``); ``write`` applies edits to the text of a requirements file or a
pyproject.toml; ``plan`` decides which fixes hold (the fixed set is audited again on every host
first) and what each file becomes.
"""
