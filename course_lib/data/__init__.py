"""Data for the course: public data sets by name, toy tasks, vocabularies and batching."""

from course_lib.data.batching import (
    collate_labelled,
    collate_pairs,
    make_loader,
    pad_sequences,
    padding_mask,
    shift_right,
)
from course_lib.data.registry import (
    ChecksumError,
    DataUnavailableError,
    dataset_dir,
    load_multi30k,
    load_names,
    load_rotten_tomatoes,
    load_tinyshakespeare,
)
from course_lib.data.splits import split_items
from course_lib.data.toy_tasks import addition_task, reversal_task
from course_lib.data.vocab import Vocab

__all__ = [
    "ChecksumError",
    "DataUnavailableError",
    "Vocab",
    "addition_task",
    "collate_labelled",
    "collate_pairs",
    "dataset_dir",
    "load_multi30k",
    "load_names",
    "load_rotten_tomatoes",
    "load_tinyshakespeare",
    "make_loader",
    "pad_sequences",
    "padding_mask",
    "reversal_task",
    "shift_right",
    "split_items",
]
