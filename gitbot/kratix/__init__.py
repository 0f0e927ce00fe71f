"""Kratix objects: model, loading and validation, hashing, and the pure rules of the contract.

May import gitbot's base modules only (errors, yamlio, durations): no I/O, no other package."""
