"""Public self-check for chapter 1.1: normalize.

Small, hand-checkable cases and properties. The hidden grader uses other, random inputs
(including constant columns, 1-D arrays and float32).
"""

import warnings

import numpy as np
import pytest

from dlnp.testing import Mistake, check_array
from neural_network.basics import normalize

pytestmark = pytest.mark.chapter("1.1")

S = np.sqrt(1.5)  # (x - mu) / sigma for x - mu = 1 and sigma = sqrt(2/3)


def test_worked_example_with_constant_column() -> None:
    # the chapter's example: column 2 is constant and is only centred
    X = np.array([[1.0, 10.0, 5.0], [2.0, 20.0, 5.0], [3.0, 60.0, 5.0]])
    col1 = np.array([-20.0, -10.0, 30.0]) / np.sqrt(1400.0 / 3.0)
    expected = np.column_stack([[-S, 0.0, S], col1, [0.0, 0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a division by the zero std would warn
        got = normalize(X)
    check_array(got, expected, name="normalize(X)", mistakes=[
        Mistake("ddof=1", np.column_stack([[-1.0, 0.0, 1.0], col1 * np.sqrt(2 / 3), [0.0, 0.0, 0.0]]),
                "You used the sample std (ddof=1); use the population std, np.std's default (ddof=0)."),
    ])


def test_one_dimensional_input() -> None:
    got = normalize(np.array([2.0, 4.0, 6.0]))
    check_array(got, np.array([-S, 0.0, S]), name="normalize(np.array([2.0, 4.0, 6.0]))")


def test_tiny_but_nonzero_std_is_still_divided() -> None:
    # std 8.2e-10 and 8.2e-7: not zero, so both columns scale to (-sqrt(1.5), 0, sqrt(1.5)) exactly
    X = np.array([[0.0, 0.0], [1e-9, 1e-6], [2e-9, 2e-6]])
    check_array(normalize(X), np.array([[-S, -S], [0.0, 0.0], [S, S]]), name="normalize of tiny columns",
                hint="A column is 'zero-std' only when its std is exactly 0: no epsilon added to the std, "
                     "no tolerance such as std < 1e-8 (see the docstring).")


def test_columns_have_mean_0_and_std_1() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 4)) * np.array([1.0, 10.0, 100.0, 0.1]) + np.array([5.0, -3.0, 50.0, 0.0])
    Z = normalize(X)
    assert Z.shape == X.shape
    check_array(Z.mean(axis=0), np.zeros(4), name="column means of normalize(X)", atol=1e-9)
    check_array(Z.std(axis=0), np.ones(4), name="column stds of normalize(X)", hint=(
        "Normalize each column with its own mean and std (axis=0), using np.std's default ddof=0."))


def test_does_not_modify_input() -> None:
    X = np.array([[1.0, 2.0], [3.0, 5.0], [4.0, 9.0]])
    X0 = X.copy()
    normalize(X)
    assert np.array_equal(X, X0), "normalize modified X: compute X - mean into a new array (not X -= mean)"
