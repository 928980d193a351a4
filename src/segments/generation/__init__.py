"""The synthetic data generator behind ``segments generate``, one module per entity.

``segments.generate`` is the command; it calls :func:`segments.generation.pipeline.generate`.
"""
