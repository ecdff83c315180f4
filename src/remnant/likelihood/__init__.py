"""The model's second face: population survival ``S(t | x)`` computed without simulation.

Given the immune trajectory, the detected clones are Poisson, so the recurrence-free
probability is ``E_I[exp(-Lambda(t | x, I)) (1 - P_L(t | x, I))]``: the birth-death law of a
clone in closed form (Kendall 1948), the dormant and woken seeds integrated by quadrature, the
margin clone by a Poisson-Gamma identity, and the lapse schedules averaged with common random
numbers. Derivations in docs/likelihood.md.

This package imports :mod:`remnant.model` only; it never calls the engine.
"""

from remnant.likelihood.cohort import PatientArrays
from remnant.likelihood.mortality import death_hazard, death_survival
from remnant.likelihood.survival import population_survival, survival_matrix
from remnant.likelihood.terms import individual_terms, log_likelihood

__all__ = [
    "PatientArrays",
    "death_hazard",
    "death_survival",
    "individual_terms",
    "log_likelihood",
    "population_survival",
    "survival_matrix",
]
