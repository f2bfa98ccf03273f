"""Who may use a road and where a pedestrian can step onto it: OSM way tags per travel mode."""

from __future__ import annotations

# The OSM way tags kept per directed edge in ``RoadNetwork.edge_tags`` (raw values, "" when the
# way has no such tag), besides ``highway`` which has its own array. Every reader of road
# networks (the OSM reader, the osmnx graph compiler, graphml files) fills exactly these keys;
# the access rules per mode and the street-level test for snapping read only these.
WAY_TAGS: tuple[str, ...] = (
    "access",
    "foot",
    "bicycle",
    "vehicle",
    "motor_vehicle",
    "motorcar",
    "motorroad",
    "oneway",
    "junction",
    "tunnel",
    "bridge",
    "layer",
    "covered",
    "indoor",
    "level",
    "maxspeed",
)
