"""HTTP API over planner: regions, towns, gaps, sites, isochrones, suggestions and maps."""
