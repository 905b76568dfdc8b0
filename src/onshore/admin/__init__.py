"""Operator actions shared by the CLI and the admin API: one implementation, two faces."""
