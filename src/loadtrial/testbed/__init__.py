"""testbed: see model.py for the data at this folder's door."""
