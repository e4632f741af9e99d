"""Delivery centers, agents, skills, languages, clearances and shifts."""
