"""Tooling for the customer-segmentation warehouse: generator, loader, checks and reports."""

__version__ = "0.1.0"
