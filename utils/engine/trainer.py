"""The training loop: validation, atomic checkpoints, exact resume and fault handling."""

import json
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from datasets.layouts import layout_from_args
from datasets.scene import list_scenes
from datasets.testing import TestDataset
from datasets.training import TrainingDataset
from models import AFUNet, count_parameters, load_pretrained
from utils.checkpoint import atomic_save, check_writable, read_checkpoint
from utils.device import autocast, resolve_device
from utils.errors import CheckpointError, UserError
from utils.losses import HDRLoss, VGG19Features
from utils.rng import rng_state, seed_everything, set_rng_state

from .evaluation import evaluate
from .faults import StopFlag, TrainingDiverged
from .schedule import EpochSampler, cosine_lr

CHECKPOINT_SPACE = 64 * 2**20  # free bytes required in the run folder before training starts
RESUME_KEYS = ("model", "optimizer", "epoch", "iter_in_epoch", "iteration", "best", "rng")


class Trainer:
    """Owns the model, optimiser, data and run folder of one training run."""

    def __init__(self, args: Any) -> None:
        self.args = args
        self.device = resolve_device(args.device)
        self.run_dir = Path(args.logdir)
        problem = check_writable(self.run_dir, CHECKPOINT_SPACE)
        if problem:
            raise UserError(problem)
        self.layout = layout_from_args(args)
        train_root = Path(self.layout.dataset_dir) / self.layout.train_path
        folders = list_scenes(train_root)
        val_folders = list_scenes(args.val_path) if args.val_path else []
        if args.val_scenes:
            if args.val_scenes >= len(folders):
                raise UserError(f"--val_scenes {args.val_scenes}: {train_root} has only {len(folders)} scenes")
            folders, val_folders = folders[: -args.val_scenes], folders[-args.val_scenes :]
        self.val_set = TestDataset(None, self.layout, val_folders) if val_folders else None
        self.test_set = None
        if args.eval_test_every:
            self.test_set = TestDataset(Path(self.layout.dataset_dir) / self.layout.test_path, self.layout)
        vgg = None
        if args.loss == "vgg":
            vgg = VGG19Features()
            if not args.vgg_random_init_for_tests:
                vgg.load_imagenet(args.vgg_weights)
        self.loss_fn = HDRLoss(args.loss, vgg).to(self.device)
        seed_everything(args.seed)
        self.data = TrainingDataset(train_root, self.layout, args.patch_size, args.repeat, args.augmentation,
                                    args.seed, folders)  # fmt: skip
        self.model = AFUNet(args.stages, args.components, args.paradigm).to(self.device)
        self.model.grad_checkpoint = getattr(args, "grad_checkpoint", False)
        if getattr(args, "init_weights", None):
            load_pretrained(self.model, args.init_weights)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
        self.epoch, self.iter_in_epoch, self.iteration, self.best = 1, 0, 0, None
        self.seconds_before, self.started = 0.0, time.time()  # training wall time of earlier sessions, this one's start
        self.log_file = self.run_dir / "log.jsonl"

    # -- checkpoints -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "config": self.model.config, "optimizer": self.optimizer.state_dict(),
            "scheduler": {"epoch": self.epoch, "lr": self.args.lr, "lr_min": self.args.lr_min,
                          "epochs": self.args.epochs},
            "epoch": self.epoch, "iter_in_epoch": self.iter_in_epoch, "iteration": self.iteration,
            "best": self.best, "rng": rng_state(), "args": vars(self.args),
            "train_seconds": self.seconds_before + time.time() - self.started,
            "meta": {"dataset": self.layout.__dict__, "parameters": count_parameters(self.model)},
        }  # fmt: skip

    def save(self, name: str) -> Path:
        path = self.run_dir / name
        atomic_save(self.state(), path)
        return path

    def resume(self, path: Path) -> None:
        ckpt = read_checkpoint(path)
        missing = [k for k in RESUME_KEYS if k not in ckpt]
        if missing:
            raise CheckpointError(f"{path}: not a train.py checkpoint to resume from (no {', '.join(missing)}); "
                                  f"start from its weights with --init_weights instead")  # fmt: skip
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch, self.iter_in_epoch, self.iteration = ckpt["epoch"], ckpt["iter_in_epoch"], ckpt["iteration"]
        self.best = ckpt["best"]
        self.seconds_before, self.started = ckpt.get("train_seconds", 0.0), time.time()
        set_rng_state(ckpt["rng"])
        self.log(f"resumed from {path} at epoch {self.epoch}, iteration {self.iteration}")

    # -- logging -----------------------------------------------------------------------------
    def log(self, message: str, **record: Any) -> None:
        tqdm.write(message)
        with open(self.log_file, "a") as f:
            f.write(json.dumps({"time": time.time(), "message": message, **record}) + "\n")

    # -- the loop ----------------------------------------------------------------------------
    def step(self, batch: dict) -> float:
        x, label = batch["input"].to(self.device), batch["label"].to(self.device)
        with autocast(self.device, getattr(self.args, "amp", None)):
            pred = self.model(x)
        loss, parts = self.loss_fn(pred.float(), label)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss.item()} at iteration {self.iteration + 1} (epoch {self.epoch})")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def loader(self) -> DataLoader:
        self.data.set_epoch(self.epoch)
        sampler = EpochSampler(len(self.data), self.args.seed, self.epoch, self.iter_in_epoch * self.args.batch_size)
        return DataLoader(self.data, self.args.batch_size, sampler=sampler, num_workers=self.args.num_workers,
                          pin_memory=self.device.type == "cuda", generator=torch.Generator())  # fmt: skip

    def set_lr(self) -> float:
        lr = cosine_lr(self.epoch, self.args.epochs, self.args.lr, self.args.lr_min)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def validate(self) -> None:
        a = self.args
        if self.val_set is not None and self.epoch % a.val_every == 0:
            m = evaluate(self.model, self.val_set, self.device, progress=False)["mean"]
            self.log(f"epoch {self.epoch} validation: " + _fmt(m), kind="val", epoch=self.epoch,
                     iteration=self.iteration, **m)  # fmt: skip
            if self.best is None or m["psnr_mu"] > self.best["psnr_mu"]:
                self.best = {"epoch": self.epoch, **m}
                self.save("best.pth")
        if self.test_set is not None and self.epoch % a.eval_test_every == 0:
            m = evaluate(self.model, self.test_set, self.device, progress=False)["mean"]
            self.log(f"epoch {self.epoch} TEST SET (not for model selection): " + _fmt(m), kind="test",
                     epoch=self.epoch, **m)  # fmt: skip
        self.model.train()

    def fit(self) -> int:
        with StopFlag() as stop:
            return self._fit(stop)

    def _fit(self, stop: StopFlag) -> int:
        a = self.args
        self.log(f"training {count_parameters(self.model):,} parameters on {len(self.data)} samples/epoch "
                 f"({len(self.data.scenes)} scenes), device {self.device}, run folder {self.run_dir}")  # fmt: skip
        self.model.train()
        while self.epoch <= a.epochs:
            lr = self.set_lr()
            bar = tqdm(self.loader(), desc=f"epoch {self.epoch}/{a.epochs}", unit="it")
            for batch in bar:
                loss = self.step(batch)
                self.iter_in_epoch += 1
                self.iteration += 1
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}")
                if self.iteration % a.log_every == 0:
                    self.log(f"iter {self.iteration} loss {loss:.5f}", kind="train", iteration=self.iteration,
                             epoch=self.epoch, loss=loss, lr=lr)  # fmt: skip
                if a.save_every_iters and self.iteration % a.save_every_iters == 0:
                    self.save("latest.pth")
                if stop.signal or (a.max_iters and self.iteration >= a.max_iters):
                    path = self.save("latest.pth")
                    reason = f"{stop.signal} received" if stop.signal else f"--max_iters {a.max_iters} reached"
                    self.log(f"{reason}: saved {path} at iteration {self.iteration}; resume with --resume auto")
                    return 0
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
    """train.py: build the run, resume if asked, train; NaN/Inf ends with a message and exit code 2."""
    trainer = Trainer(args)
    if args.resume:
        path = trainer.run_dir / "latest.pth" if args.resume == "auto" else Path(args.resume)
        if path.is_file():
            trainer.resume(path)
        elif args.resume != "auto":
            raise UserError(f"{path}: checkpoint to resume from not found")
    try:
        return trainer.fit()
    except TrainingDiverged as e:
        last = trainer.run_dir / "latest.pth"
        kept = f"the last good checkpoint is {last}" if last.is_file() else "no checkpoint was written yet"
        trainer.log(f"error: {e}; stopping, {kept}")
        return 2
