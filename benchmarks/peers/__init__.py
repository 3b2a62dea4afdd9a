"""Peer models built in the run (CompressAI modules with perturbed, briefly trained weights) that the interop
tests and the benchmarks share: one copy, below both."""
