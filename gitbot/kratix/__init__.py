"""Kratix objects: model, loading and validation, hashing, and the pure rules of the contract."""
