"""Run by tests/test_training_ddp.py under ``torchrun``: trains the tiny model of that test
with ``train`` for 2 epochs, then resumes it from its checkpoint for a third, and saves what
each process ends with."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from course_lib.engine import TrainConfig, train

sys.path.insert(0, str(Path(__file__).parent))
from test_training_ddp import PER_PROCESS_BATCH, dataset, loss_fn, make_model  # noqa: E402


def run(out_dir: Path, epochs: int, resume: bool):
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loader = DataLoader(dataset(), batch_size=PER_PROCESS_BATCH)
    config = TrainConfig(epochs=epochs, grad_accum_steps=2, progress=False)
    result = train(model, loader, loss_fn, optimizer, config=config,
                   output_dir=out_dir / "checkpoints", resume=resume, device="cpu")
    return model, result


def main(out_dir: Path) -> None:
    for name, epochs, resume in (("first", 2, False), ("resumed", 3, True)):
        model, result = run(out_dir, epochs, resume)
        rank = dist.get_rank()
        torch.save(model.state_dict(), out_dir / f"{name}-rank{rank}.pt")
        (out_dir / f"{name}-rank{rank}.json").write_text(json.dumps({
            "processes": dist.get_world_size(), "backend": dist.get_backend(),
            "steps": result.steps, "step_losses": result.step_losses}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
