"""The bundled synthetic sample county (示范县), shipped as package data ``planner.sample_data``.

Found with :func:`planner.region.sample_dir`; ``generate.py`` here writes it again.
"""
