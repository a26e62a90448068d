"""The training loop: validation, atomic checkpoints, exact resume and fault handling, in one process or
in several under torchrun (each rank trains its share of every global batch; see ``distributed``)."""

import math
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from datasets.layouts import layout_from_args
from datasets.splits import datasets_from_args
from models import (
    CLI_OPTIONS,
    NETWORKS,
    TrainingOutput,
    build_model,
    checkpoint_config,
    count_parameters,
    load_pretrained,
    trains_on_label,
)
from utils.checkpoint import atomic_save, claim_run_folder, read_checkpoint
from utils.device import autocast, check_amp, peak_memory_mib, resolve_device, set_deterministic, set_tf32
from utils.errors import CheckpointError, UserError
from utils.losses import VGG19Features, build_loss
from utils.rng import rng_state, seed_everything, set_rng_state

from . import distributed
from .distributed import RankBatches, Ranks
from .evaluation import evaluate
from .faults import StopFlag, TrainingDiverged
from .monitor import RunLog, tensorboard_available
from .schedule import EpochSampler, learning_rate

CHECKPOINT_SPACE = 64 * 2**20  # free bytes required in the run folder before training starts
RESUME_KEYS = ("model", "optimizer", "epoch", "iter_in_epoch", "iteration", "best", "rng")
PREVIEW_SCENES = 3  # validation predictions shown in TensorBoard


class Trainer:
    """Owns the model, optimiser, data and run folder of one training run (of one rank under torchrun)."""

    def __init__(self, args: Any, ranks: Ranks | None = None, device: torch.device | None = None) -> None:
        self.args, self.ranks = args, ranks or Ranks()
        self.device = device or resolve_device(args.device)
        self.run_dir = Path(args.logdir)
        claim = partial(claim_run_folder, self.run_dir, CHECKPOINT_SPACE, args.resume, args.overwrite)
        distributed.on_main(claim, self.ranks)  # checked where checkpoints are written
        use_tensorboard = tensorboard_available() if args.tensorboard is None else args.tensorboard
        if use_tensorboard and not tensorboard_available():
            raise UserError("--tensorboard: the tensorboard package is not installed (pip install tensorboard)")
        self.log = RunLog(self.run_dir, use_tensorboard, enabled=self.ranks.is_main)
        if NETWORKS[args.model].MULTI_OUTPUT and args.loss != "multiscale":
            raise UserError(f"--loss {args.loss} scores one output; {args.model} trains on one output per scale: "
                            f"use --loss multiscale (its recipe's)")  # fmt: skip
        vgg = None
        if args.loss == "vgg":  # before the data: a missing file is reported before minutes of decoding
            vgg = VGG19Features()
            if not args.vgg_random_init_for_tests:
                vgg.load_imagenet(args.vgg_weights)
        self.loss_fn = build_loss(args.loss, vgg, args.perceptual_weight).to(self.device)
        self.resume_from = self.resume_checkpoint()  # before the data: a wrong file is reported at once
        self.data, self.val_set, self.test_set = datasets_from_args(args)
        seed_everything(args.seed + self.ranks.rank)  # rank 0 as one process; DDP copies rank 0's weights
        options = {k: getattr(args, k) for k in CLI_OPTIONS[args.model] if getattr(args, k) is not None}
        self.model = build_model(args.model, **options)
        self.model.to(self.device).grad_checkpoint = args.grad_checkpoint
        self.feeds_label = trains_on_label(self.model)  # LF-Diff: forward(x, label)
        if args.init_weights:  # LF-Diff stage 2 from stage 1: its diffusion modules start from scratch (U17)
            load_pretrained(self.model, args.init_weights, fresh=getattr(self.model, "fresh_modules", ()))
        self.train_model = self.model
        if self.ranks.enabled:  # static graph: the same parameters (all but the unused embed_norm_div3) every step
            self.train_model = distributed.wrap_ddp(self.model, self.device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]  # not LF-Diff's frozen modules
        self.optimizer = torch.optim.Adam(trainable, lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
        self.epoch, self.iter_in_epoch, self.iteration, self.best = 1, 0, 0, None
        self.seconds_before, self.started = 0.0, time.time()  # training wall time of earlier sessions, this one's start

    # -- checkpoints -------------------------------------------------------------------------
    def state(self, rng: dict[str, Any]) -> dict[str, Any]:
        """Everything an exact resume needs, with this process's random state ``rng``."""
        return {
            "model": self.model.state_dict(), "config": checkpoint_config(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"epoch": self.epoch, "lr": self.args.lr, "lr_min": self.args.lr_min,
                          "lr_step": self.args.lr_step, "epochs": self.args.epochs},
            "epoch": self.epoch, "iter_in_epoch": self.iter_in_epoch, "iteration": self.iteration,
            "best": self.best, "rng": rng, "args": vars(self.args), "world_size": self.ranks.world_size,
            "train_seconds": self.seconds_before + time.time() - self.started,
            "meta": {"dataset": layout_from_args(self.args).__dict__, "parameters": count_parameters(self.model)},
        }  # fmt: skip

    def save(self, name: str, every_rank: bool = True) -> Path:
        """Rank 0 writes ``name`` atomically. With ``every_rank`` (all ranks call it at the same step) the
        checkpoint also holds each rank's random state, for an exact resume on as many processes."""
        rng = rng_state()
        rng_ranks = distributed.gather(rng, self.ranks) if every_rank else []
        path = self.run_dir / name
        if self.ranks.is_main:
            atomic_save({**self.state(rng), **({"rng_ranks": rng_ranks} if rng_ranks else {})}, path)
        return path

    def resume_checkpoint(self) -> tuple[Path, dict[str, Any]] | None:
        """(path, contents) of the checkpoint --resume names, checked to be a train.py checkpoint of this
        network; None for a fresh run (also --resume auto without latest.pth)."""
        if not self.args.resume:
            return None
        path = self.run_dir / "latest.pth" if self.args.resume == "auto" else Path(self.args.resume)
        if not path.is_file():
            if self.args.resume == "auto":
                return None
            raise UserError(f"{path}: checkpoint to resume from not found")
        ckpt = read_checkpoint(path)
        missing = [k for k in RESUME_KEYS if k not in ckpt]
        if missing:
            raise CheckpointError(f"{path}: not a train.py checkpoint to resume from (no {', '.join(missing)}); "
                                  f"start from its weights with --init_weights instead")  # fmt: skip
        saved = (ckpt.get("config") or {}).get("model", "afunet")
        if saved != self.args.model:
            raise CheckpointError(f"{path}: holds a {saved} run, this run trains {self.args.model} "
                                  f"(resume it with --model {saved})")  # fmt: skip
        return path, ckpt

    def resume(self, path: Path, ckpt: dict[str, Any]) -> None:
        """Continue exactly where the checkpoint ``ckpt`` (read from ``path``) stopped."""
        ours = checkpoint_config(self.model)
        other = {k: v for k, v in (ckpt.get("config") or {}).items() if k in ours and ours[k] != v}
        if other:
            raise CheckpointError(f"{path}: holds a run of another configuration ({other}), this run builds "
                                  f"{ {k: ours[k] for k in other} }: resume it with the same options")  # fmt: skip
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch, self.iter_in_epoch, self.iteration = ckpt["epoch"], ckpt["iter_in_epoch"], ckpt["iteration"]
        self.best = ckpt["best"]
        self.seconds_before, self.started = ckpt.get("train_seconds", 0.0), time.time()
        saved_world, rng_ranks = ckpt.get("world_size", 1), ckpt.get("rng_ranks", [])
        if len(rng_ranks) == self.ranks.world_size:
            set_rng_state(rng_ranks[self.ranks.rank])
        elif self.ranks.is_main:
            set_rng_state(ckpt["rng"])
        else:
            seed_everything(self.args.seed + 1000 * self.iteration + self.ranks.rank)
        note = "" if saved_world == self.ranks.world_size else (
            f"; it ran on {saved_world} process(es), now {self.ranks.world_size}: same samples per step and "
            f"schedule, not bit-exact (each rank's random state differs)")  # fmt: skip
        self.log(f"resumed from {path} at epoch {self.epoch}, iteration {self.iteration}{note}")

    # -- the loop ----------------------------------------------------------------------------
    def step(self, batch: dict, weight: float, stop_requested: bool) -> tuple[dict[str, float], bool]:
        """One optimiser step on this rank's share; -> (global-batch mean of the loss and, for a network with
        loss terms of its own, of each term, stop on every rank)."""
        x, label = (batch[k].to(self.device, non_blocking=True) for k in ("input", "label"))  # pinned on CUDA
        with autocast(self.device, self.args.amp):
            out = self.train_model(x, label) if self.feeds_label else self.train_model(x)
        own = isinstance(out, TrainingOutput)
        pred, terms = (out.prediction, dict(out.losses)) if own else (out, {})
        if pred is not None:  # L_r; None: LF-Diff's split training, where it trains nothing
            terms = {"reconstruction": self.loss_fn(pred, label)[0], **terms}
        loss = sum(terms.values())
        values, stop = distributed.reduce_terms(
            torch.stack([loss, *terms.values()]), weight, stop_requested, self.ranks
        )
        if not math.isfinite(values[0]):
            raise TrainingDiverged(f"loss became {values[0]} at iteration {self.iteration + 1} (epoch {self.epoch})")
        self.optimizer.zero_grad(set_to_none=True)
        (loss * weight if self.ranks.enabled else loss).backward()
        self.optimizer.step()
        parts = {f"loss_{name}": v for name, v in zip(terms, values[1:])} if own else {}
        return {"loss": values[0], **parts}, stop

    def loader(self) -> tuple[DataLoader, RankBatches]:
        self.data.set_epoch(self.epoch)
        order = EpochSampler(len(self.data), self.args.seed, self.epoch, self.iter_in_epoch * self.args.batch_size)
        batches = RankBatches(order, self.args.batch_size, self.ranks)
        loader = DataLoader(self.data, batch_sampler=batches, num_workers=self.args.num_workers,
                            pin_memory=self.device.type == "cuda", generator=torch.Generator())  # fmt: skip
        return loader, batches

    def set_lr(self) -> float:
        lr = learning_rate(self.epoch, self.args.epochs, self.args.lr, self.args.lr_min, self.args.lr_step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def scored_now(self) -> tuple[bool, bool]:
        """(validation set, test set): whether each is scored at the end of this epoch."""
        a = self.args
        return (self.val_set is not None and self.epoch % a.val_every == 0,
                self.test_set is not None and self.epoch % a.eval_test_every == 0)  # fmt: skip

    def validate(self) -> None:
        """Rank 0 scores the validation (and test) set and keeps best.pth; the other ranks wait."""
        validation, test = self.scored_now()
        if self.ranks.is_main and validation:
            previews: list = []

            def keep(item: dict, pred: Any) -> None:
                if item["has_label"] and len(previews) < PREVIEW_SCENES:
                    previews.append((item["name"], pred.transpose(1, 2, 0), item["label"].numpy().transpose(1, 2, 0)))

            m = evaluate(self.model, self.val_set, self.device, progress=False, on_prediction=keep)["mean"]
            self.log(f"epoch {self.epoch} validation: " + _fmt(m), kind="val", epoch=self.epoch,
                     iteration=self.iteration, **m)  # fmt: skip
            self.log.images("val/prediction_label", previews, self.iteration)
            if self.best is None or m["psnr_mu"] > self.best["psnr_mu"]:
                self.best = {"epoch": self.epoch, **m}
                self.save("best.pth", every_rank=False)
        if self.ranks.is_main and test:
            m = evaluate(self.model, self.test_set, self.device, progress=False)["mean"]
            self.log(f"epoch {self.epoch} TEST SET (not for model selection): " + _fmt(m), kind="test",
                     epoch=self.epoch, iteration=self.iteration, **m)  # fmt: skip
        self.model.train()
        distributed.barrier(self.ranks)

    def fit(self) -> int:
        self.log.open_tensorboard(self.iteration)
        try:
            with StopFlag() as stop:
                return self._fit(stop)
        finally:
            self.log.close()

    def _fit(self, stop: StopFlag) -> int:
        a, r = self.args, self.ranks
        procs = f", {r.world_size} processes, global batch {a.batch_size}" if r.enabled else ""
        self.log(f"training {count_parameters(self.model):,} parameters on {len(self.data)} samples/epoch "
                 f"({len(self.data.scenes)} scenes), device {self.device}{procs}, run {self.run_dir}")  # fmt: skip
        self.model.train()
        while self.epoch <= a.epochs:
            lr = self.set_lr()
            loader, batches = self.loader()
            bar = tqdm(loader, desc=f"epoch {self.epoch}/{a.epochs}", unit="it", disable=not r.is_main)
            since = (time.perf_counter(), self.iteration)
            for step, batch in enumerate(bar):
                losses, stop_all = self.step(batch, batches.weight(step), stop.signal is not None)
                loss = losses["loss"]
                self.iter_in_epoch += 1
                self.iteration += 1
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
                if self.iteration % a.log_every == 0:
                    now = time.perf_counter()
                    its = (self.iteration - since[1]) / (now - since[0])
                    since = (now, self.iteration)
                    parts = "".join(f", {k.removeprefix('loss_')} {v:.5f}" for k, v in losses.items() if k != "loss")
                    extra = {"max_memory_mib": m} if (m := peak_memory_mib(self.device)) is not None else {}  # CUDA
                    self.log(f"iter {self.iteration} loss {loss:.5f}{parts}", kind="train", iteration=self.iteration,
                             epoch=self.epoch, lr=lr, it_per_s=its, samples_per_s=its * a.batch_size,
                             **losses, **extra)  # fmt: skip
                if a.save_every_iters and self.iteration % a.save_every_iters == 0:
                    self.save("latest.pth")
                if stop_all or (not r.enabled and stop.signal) or (a.max_iters and self.iteration >= a.max_iters):
                    path = self.save("latest.pth")
                    reason = f"--max_iters {a.max_iters} reached" if a.max_iters and self.iteration >= a.max_iters \
                        else f"{stop.signal or 'a stop signal on another rank'} received"  # fmt: skip
                    self.log(f"{reason}: saved {path} at iteration {self.iteration}; resume with --resume auto")
                    return 0
            if any(self.scored_now()):
                self.save("latest.pth")  # first: a failure in validation (out of memory) then loses no step
            self.validate()
            self.epoch, self.iter_in_epoch = self.epoch + 1, 0
            self.save("latest.pth")
            if a.keep_every and (self.epoch - 1) % a.keep_every == 0:
                self.save(f"epoch_{self.epoch - 1:04d}.pth")
        self.log(f"finished {a.epochs} epochs, {self.iteration} iterations")
        return 0


def _fmt(m: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in m.items())


def run_training(args: Any) -> int:
    """train.py or one torchrun rank (which ends in ``distributed.exit_rank``): build the run, resume if asked,
    train; NaN/Inf on any rank ends every rank with a message and exit code 2."""
    set_deterministic(args.deterministic)  # before the device's first use (cuBLAS's workspace setting)
    ranks, device = distributed.setup(args.device, args.batch_size, args.dist_timeout)
    set_tf32(args.tf32)
    check_amp(device, args.amp)
    try:
        trainer = Trainer(args, ranks, device)
        if trainer.resume_from:
            trainer.resume(*trainer.resume_from)
            trainer.resume_from = None  # not kept for the whole run
        try:
            code = trainer.fit()
        except TrainingDiverged as e:  # decided on every rank at the same step
            last = trainer.run_dir / "latest.pth"
            kept = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written yet"
            trainer.log(f"error: {e}; stopping, {kept}")
            code = 2
        distributed.exit_rank(code, ranks)
        return code
    except BaseException as e:
        distributed.fail_rank(e)
        raise
