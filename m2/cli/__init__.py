"""The ``m2`` command-line client: a cliff app, one module per resource."""
