"""Accounts: signup (inscription), login, logout."""
