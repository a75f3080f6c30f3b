"""Symmetric feedback (backprop-like): ``L_j = sum_k w_jk delta_k`` with the
forward weights themselves, summed by the forward synapses into their
presynaptic neurons (no feedback matrix)."""

from ... import feedback as fb
from .base import Pathway, register


@register
class Symmetric(Pathway):
    name = "symmetric"
    needs_chain = True

    def describe(self, rule):
        return ("learning signal of each hidden layer (summed by the forward synapses into their source):\n"
                + fb.indented(fb.SYMMETRIC_FEEDBACK_LINE) + self.passes_down(rule))

    def forward_line(self, from_input):
        return "" if from_input else fb.SYMMETRIC_FEEDBACK_LINE
