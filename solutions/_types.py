"""Array type aliases shared by every module (copied verbatim into the student release)."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

#: A floating-point array (float64 by default; float32 input must work too).
FloatArray = NDArray[np.floating[Any]]
#: Any NumPy array (labels, masks, inputs of unknown dtype).
AnyArray = NDArray[Any]

__all__ = ["AnyArray", "FloatArray"]
