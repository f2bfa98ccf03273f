"""One router per resource; each is a thin layer over :mod:`api.state` and the library."""
