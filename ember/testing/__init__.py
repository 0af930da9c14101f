"""Test support shared by ember's suite: sample specs for the op registry, comparisons."""
