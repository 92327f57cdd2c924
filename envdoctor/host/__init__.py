"""Knowing the host: probing this machine, reading profiles of others."""
