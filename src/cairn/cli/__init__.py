"""The command line: parse, call the engine, render. No logic of its own."""
