"""The core layer: errors with exit codes, ids, clock, units and progress events (stdlib only)."""
