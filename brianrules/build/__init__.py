"""Builders: declarations turned into Brian2 objects, and the checks made
before anything is built (`checks`)."""
