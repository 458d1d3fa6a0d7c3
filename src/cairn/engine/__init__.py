"""The engine: the Python API every front end calls (register, backup, restore, check, ls)."""
