"""Module 1: recurrent models, the road to attention.

``rnn`` (a vanilla RNN in NumPy), ``lstm`` (an LSTM cell equal to ``nn.LSTM``), ``char_model``
(a character-level name generator), ``word2vec`` (skip-gram embeddings) and ``seq2seq`` (an
encoder-decoder with and without dot-product attention).
"""
