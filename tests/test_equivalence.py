"""Data-parallel training is the same training: 2 processes with a per-process batch of B give the same loss and the
same gradients as 1 process with a batch of 2B (the bug class that reached sentence-transformers releases: negatives
not gathered, gradients of gathered embeddings not summed, unused parameters leaving buckets unreduced).

The two ranks are real: `accelerate launch --multi_gpu --num_processes 2` (gloo on a CPU), started through
hubembed.launch. Each rank computes one step the way the trainer does it: the SentenceTransformerTrainer that
hubembed's trainers build (its accelerator and DDP settings, its data collator, its compute_loss) on the loss module
the plugin builds; rank r takes rows [rB, (r+1)B) of the same 2B triplets. Cases: MNR and cached MNR (GradCache,
mini-batches of 2) with the full trainer, and MNR with a LoRA adapter. This file is also the worker script.
"""

from __future__ import annotations

import sys
from pathlib import Path

B = 4  # rows per process
CASES = [("mnr", "full", {}), ("cached_mnr", "full", {"mini_batch_size": 2}), ("mnr", "lora", {})]


def one_step(tiny_model: str, rank: int, world: int, workdir: Path) -> dict:
    """Loss and gradients of one training step on this rank, for every case (the mean loss over ranks)."""
    from sentence_transformers import SentenceTransformer

    from hubembed import compat
    from hubembed import config as cfgmod
    from hubembed.pipeline import build_data
    from hubembed.types import TrainingParams, TrainJob
    from hubembed.training import build_trainer

    results = {}
    for loss_name, trainer_name, loss_params in CASES:
        cfg = cfgmod.RunConfig(loss=cfgmod.Step(loss_name, loss_params), trainer=cfgmod.Step(trainer_name))
        run = cfgmod.resolve(cfgmod.apply_overrides(cfgmod.with_defaults(cfg), [f"data.limit={2 * B}", "training.hold_out=false"]))
        rows, _, _ = build_data(run, compat.check(run), tiny_model, log=lambda m: None)
        model = run.trainer.plugin.prepare_model(run.loss.plugin.prepare_model(SentenceTransformer(tiny_model)))
        model.eval()  # no dropout: both sides must compute the same function
        training = TrainingParams(max_steps=1, batch_size=B * 2 // world, precision="fp32", save_steps=0)
        job = TrainJob(model=model, loss=run.loss.plugin, train_dataset=rows, training=training, output_dir=workdir)
        trainer = build_trainer(job, {"weight_decay": 0.0, "max_grad_norm": 0.0})
        lo, hi = rank * len(rows) // world, (rank + 1) * len(rows) // world
        inputs = trainer.data_collator([rows[i] for i in range(lo, hi)])
        # what trainer.train() does before its steps: wrap the model (DDP with the trainer's settings) and keep it
        # as model_wrapped, which compute_loss puts into the loss module
        trainer.model_wrapped = wrapped = trainer.accelerator.prepare_model(trainer.model)
        loss = trainer.compute_loss(wrapped, inputs)
        trainer.accelerator.backward(loss)
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        mean_loss = trainer.accelerator.gather(loss.detach().reshape(1)).mean()
        results[f"{loss_name}+{trainer_name}"] = {"loss": float(mean_loss), "grads": grads,
                                                   "gathered": getattr(trainer.loss, "gather_across_devices", None)}
    return results


def test_two_processes_equal_one_process_with_twice_the_batch(tiny_model, tmp_path):
    import torch

    from hubembed import launch

    out = tmp_path / "two.pt"
    code = launch.run([__file__, tiny_model, str(out), str(tmp_path / "work")], num_processes=2, accelerate_config=None,
                      env={"HF_HUB_OFFLINE": "1"}, module=False)
    assert code == 0 and out.exists(), "the 2-process worker failed (its output is above)"
    two = torch.load(out)
    one = one_step(tiny_model, 0, 1, tmp_path / "one")
    assert set(two) == set(one) == {f"{loss}+{trainer}" for loss, trainer, _ in CASES}
    for case in one:
        assert two[case]["gathered"] is True, f"{case}: negatives were not gathered across the 2 processes"
        assert one[case]["gathered"] is False
        assert abs(two[case]["loss"] - one[case]["loss"]) < 1e-5, case
        assert set(two[case]["grads"]) == set(one[case]["grads"]) and one[case]["grads"], case
        if case.endswith("+lora"):  # only the adapter trains
            assert all("lora_" in name for name in one[case]["grads"])
        scale = max(float(g.abs().max()) for g in one[case]["grads"].values())  # float noise scales with the gradients
        for name, grad in one[case]["grads"].items():
            diff = float((two[case]["grads"][name] - grad).abs().max())
            assert diff <= 1e-4 * float(grad.abs().max()) + 2e-5 * scale, f"{case}: {name} differs by {diff:.2e}"


if __name__ == "__main__":  # a rank of the 2-process side: python test_equivalence.py TINY_MODEL OUT.pt WORKDIR
    import os

    import torch

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    found = one_step(sys.argv[1], rank, world, Path(sys.argv[3]) / f"rank{rank}")
    if rank == 0:
        torch.save(found, sys.argv[2])
    from hubembed.launch import exit_rank

    exit_rank(0)
