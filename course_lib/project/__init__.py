"""Module 6: the final project, from a data file to a shipped model.

``final_project`` (the worked examples' data and models), ``project_data`` (strict CSV/JSONL
reading and leak-free splits), ``evaluation`` (BLEU, ROUGE, F1 against a baseline, error
analysis), ``optimise`` (batching, cache, int8 measured) and ``shipping`` (safetensors, a model
card, a self-check in a fresh process).
"""
