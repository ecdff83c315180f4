"""Presentation: printed tables and static plots of results."""
