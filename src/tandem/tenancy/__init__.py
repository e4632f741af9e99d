"""Clients (tenants), users, roles and permissions, API tokens."""
