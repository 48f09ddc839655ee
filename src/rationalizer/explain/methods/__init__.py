"""The built-in explainers; importing this package registers every one of them."""

from rationalizer.explain.methods import gradients, greedy, perturbation

__all__ = ["gradients", "greedy", "perturbation"]
