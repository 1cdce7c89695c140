"""course_lib: the small shared library behind the course's notebooks.

Each concept lives in a file named after it (``lstm.py``, ``attention.py``, ...); notebooks
import the reference implementation after each exercise instead of redefining it.
"""

from course_lib.settings import Settings, setup

__version__ = "0.1.0"

__all__ = ["Settings", "setup", "__version__"]
