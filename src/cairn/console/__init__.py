"""The console: the agent's pages in a browser, served by the agent itself (docs/console.md).

A front end like `cairn.cli`, beside it and above `cairn.agent`: it renders and calls the same
agent and engine functions the CLI calls, with no logic of its own.
"""
