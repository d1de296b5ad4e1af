"""Reference solutions of "Learn Deep Learning with NumPy": the single source of truth.

Students import the same modules from their own package ``neural_network``
(``from neural_network.activations import sigmoid``); the student release is
generated from these files by replacing every graded body with a stub. This
``__init__`` deliberately imports nothing, so that a broken module never hides
the others.
"""
