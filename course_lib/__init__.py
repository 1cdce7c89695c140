"""course_lib: the small shared library behind the course's notebooks.

Each concept lives in a file named after it (``lstm.py``, ``attention.py``, ...); notebooks
import the reference implementation after each exercise instead of redefining it.
"""

from course_lib.machinery.settings import Settings, setup

__version__ = "0.1.0"

# Where the course is published: the Open-in-Colab badges, the Colab bootstrap and its links
# are all built from these two values. A placeholder until the course has a public home:
# change it here (a fork: to your own "user/repository") and run `course build`.
REPO_SLUG = "your-github-user/transformers-course"
REPO_BRANCH = "main"

__all__ = ["REPO_BRANCH", "REPO_SLUG", "Settings", "setup", "__version__"]
