"""The course's machinery, kept apart from its concepts.

``settings`` and ``profiles`` (what ``setup()`` returns and the size table), ``paths``
(repository, data and output folders), ``lessons`` (``course build``), ``runner`` (``course
run``), ``doctor``, ``colab`` and ``cli``. A learner never needs to open this folder.
"""
