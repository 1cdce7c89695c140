"""The course's machinery, kept apart from its concepts.

``settings`` and ``profiles`` (what ``setup()`` returns and the size table), ``paths``
(repository, data and output folders), ``lessons`` (``course build``), ``runner`` (``course
run``), ``run_times`` (measured times, ``course run --record``), ``progress`` (progress bars
that read correctly in executed copies), ``doctor``, ``colab`` and ``cli``. A learner never
needs to open this folder.
"""
