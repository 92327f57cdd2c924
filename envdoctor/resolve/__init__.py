"""Resolution: which versions would really be installed for a target, asked of uv (or pip-tools)."""
