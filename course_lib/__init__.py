"""course_lib: the small shared library behind the course's notebooks.

Each concept lives in a file named after it; notebooks import the reference implementation
after each exercise instead of redefining it. The files, by the module that teaches them:

- Module 1, recurrent models, in ``recurrent/``: ``rnn``, ``lstm``, ``char_model``,
  ``word2vec``, ``seq2seq``; flat beside them ``training`` (``fit``, the small loop every
  module uses) and ``device``.
- Module 2, attention: ``attention``, ``positional_encoding``; ``torch_interop`` copies the
  course's layers to and from PyTorch's (Modules 2-4) to prove they compute the same.
- Module 3, the encoder: ``add_norm``, ``feed_forward``, ``embedding``, ``encoder``
  (``TransformerBlock``, taught as ``EncoderLayer``), ``classifier``, ``metrics``.
- Module 4, the Transformer: ``decoder``, ``transformer``, ``decoding``, ``losses``,
  ``schedules``, ``translation``, ``language_model``, ``bpe``; the training engine ``engine``
  (``train``) and its ``checkpoints``.
- Module 5, pre-trained models: ``pretrained``, ``gpt2``, ``sampling``, ``generation_widget``,
  ``seq2seq_adapter``, ``lora``.
- Module 6, the final project, in ``project/``: ``final_project``, ``project_data``,
  ``evaluation``, ``optimise``, ``shipping``.
- Around them: ``data/`` (data sets, vocabularies, batching), ``checkers/`` (the exercises'
  checks), ``plots`` and ``report`` (figures, result sentences) and ``machinery/`` (setup,
  profiles, Colab, the doctor, the notebook build).
"""

from course_lib.machinery.settings import Settings, setup

__version__ = "0.1.0"

# Where the course is published: the Open-in-Colab badges, the Colab bootstrap and its links
# are all built from these two values. A placeholder until the course has a public home:
# change it here (a fork: to your own "user/repository") and run `course build`.
REPO_SLUG = "your-github-user/transformers-course"
REPO_BRANCH = "main"

__all__ = ["REPO_BRANCH", "REPO_SLUG", "Settings", "setup", "__version__"]
