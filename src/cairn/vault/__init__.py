"""The vault layer: the on-storage format, and the only user of storage."""
