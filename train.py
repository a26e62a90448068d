"""Train AFUNet (default), STHDR (--model sthdr) or LF-Diff (--model lfdiff, in two stages) with its
paper's recipe, or another recipe.

AFUNet   paper:    batch 6, 128x128 crops, rotations + flips, L1 + 0.005 VGG-19 perceptual loss (mu-law)
         official: batch 4, 128x128 crops, flips only,        L1 + 0.005 FFT loss
         both: Adam 5e-4, cosine decay to 5e-6 stepped per epoch, 400 epochs of scenes x 100 crops
STHDR    sthdr:          batch 16, 256x256 crops, rotations + flips, mu-law L1 at each of the 3 scales,
                         Adam 1e-4, cosine to 1e-6, 800 epochs of scenes x 100 crops
         sthdr_finetune: batch 8, 384x384 crops, 20 epochs (start it with --init_weights)
LF-Diff  lfdiff: batch 64, 128x128 crops (308 per scene and epoch), rotations + flips, mu-law L1
                 + 0.01 VGG-19 perceptual, Adam 1e-4 x0.1 every 50 epochs, 300 epochs a stage;
                 --stage 1 (DHRNet with the label's prior), then
                 --stage 2 --init_weights STAGE1.pth (the latent diffusion model, jointly with DHRNet)
Seed 443. Every field of a recipe can be overridden. Ctrl-C / SIGTERM saves latest.pth and exits; --resume auto
continues exactly where a run stopped. On several GPUs or machines, start it with torchrun:
    torchrun --nproc_per_node 4 train.py ...   (--batch_size stays the global batch)
"""

import argparse
import sys

from datasets.layouts import add_dataset_arguments
from datasets.training import AUGMENTATIONS
from models import COMPONENTS, NETWORK_VARIANTS, NETWORKS, PARADIGMS
from models.lfdiff import STAGE as LFDIFF_STAGE
from models.lfdiff import T as DIFFUSION_STEPS
from utils.cli import COUNT, FRACTION, NON_NEGATIVE, POSITIVE, POSITIVE_INT, SEED, Parser, number, run_cli
from utils.engine.schedule import DEFAULT_RECIPE, RECIPES
from utils.losses import LOSSES

MIN_PATCH = number(int, 8)  # the smallest crop every network can reflect-pad to its multiple


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(__doc__)
    add_dataset_arguments(p)
    r = p.add_argument_group("recipe")
    r.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="defaults below (default: paper for AFUNet, sthdr for STHDR)")  # fmt: skip
    r.add_argument(
        "--batch_size", type=POSITIVE_INT, default=None, help="paper 6, official 4, sthdr 16, sthdr_finetune 8"
    )
    r.add_argument("--augmentation", choices=AUGMENTATIONS, default=None, help="paper: rot90+flip; official: flips")
    r.add_argument("--loss", choices=LOSSES, default=None,
                   help="vgg (paper), fft (official), l1, multiscale (STHDR: mu-law L1 of every output)")  # fmt: skip
    r.add_argument("--vgg_weights", default=None, help="torchvision vgg19-dcbb9e9d.pth (default: download)")
    r.add_argument("--epochs", type=POSITIVE_INT, default=None, help="AFUNet 400, sthdr 800, sthdr_finetune 20")
    r.add_argument("--repeat", type=POSITIVE_INT, default=None, help="crops per scene per epoch (every recipe: 100)")
    r.add_argument("--patch_size", type=MIN_PATCH, default=None, help="AFUNet 128, sthdr 256, sthdr_finetune 384")
    r.add_argument("--lr", type=POSITIVE, default=None, help="AFUNet 5e-4, STHDR 1e-4")
    r.add_argument("--lr_min", type=NON_NEGATIVE, default=None, help="AFUNet 5e-6, STHDR 1e-6")
    r.add_argument("--lr_step", type=COUNT, default=None,
                   help="rate x0.1 every N epochs instead of the cosine decay (lfdiff 50; else 0)")  # fmt: skip
    r.add_argument("--perceptual_weight", type=NON_NEGATIVE, default=None,
                   help="weight of the vgg or fft term (AFUNet 0.005, lfdiff 0.01)")  # fmt: skip
    r.add_argument("--seed", type=SEED, default=443)
    r.add_argument("--num_workers", type=COUNT, default=4)
    r.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, ...")
    r.add_argument("--grad_checkpoint", action="store_true",
                   help="recompute each stage in the backward pass: less memory, slower, same gradients")  # fmt: skip
    r.add_argument("--amp", choices=["bf16"], default=None,
                   help="forward pass under bfloat16 autocast (weights, optimiser and loss stay float32): "
                        "faster on GPUs and on CPUs with AMX/AVX512-BF16 (README, Performance)")  # fmt: skip
    r.add_argument(
        "--no_tf32",
        dest="tf32",
        action="store_false",
        help="CUDA: full float32 matmuls and convolutions (default: TF32 on Ampere and newer, faster)",
    )
    r.add_argument("--deterministic", action="store_true",
                   help="CUDA: deterministic algorithms, so that a resumed run is bit-identical to an "
                        "uninterrupted one there too (slower; the CPU is deterministic without it)")  # fmt: skip
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=sorted(NETWORKS), default=None,
                   help="network (default: the recipe's; afunet without --recipe)")  # fmt: skip
    m.add_argument("--variant", choices=[v for vs in NETWORK_VARIANTS.values() for v in vs], default=None,
                   help="STHDR: a Table 4 ablation (default SCM_MS, the full model); LF-Diff, its Table 3: "
                        "stage 1: s1 (default: the prior read from the label) or baseline (no prior); stage 2: "
                        "full (default: latent diffusion), s2_wo_dm (no diffusion) or split (DM alone)")  # fmt: skip
    m.add_argument(
        "--frm_depth",
        type=int,
        choices=[1, 2],
        default=None,
        help="LF-Diff: residual and Restormer blocks per FRM branch (default 2; 1: the text's reading)",
    )
    m.add_argument("--stage", type=int, choices=[1, 2], default=1,
                   help="LF-Diff: training stage (1: DHRNet with the label's prior; 2: from a stage-1 checkpoint "
                        "given by --init_weights, the diffusion model with DHRNet; default: %(default)s)")  # fmt: skip
    m.add_argument(
        "--ddim_steps",
        type=number(int, 1, DIFFUSION_STEPS),
        default=None,
        help="LF-Diff stage 2: DDIM steps S of the sampler in training (default 10, the paper's)",
    )
    m.add_argument("--stages", type=POSITIVE_INT, default=4, help="AFUNet: T, number of unfolding stages (default: 4)")
    m.add_argument("--components", choices=sorted(COMPONENTS), default="full", help="AFUNet: M1-M4 ablations")
    m.add_argument("--paradigm", choices=PARADIGMS, default="AF", help="AFUNet: AF or FA (paper Table 6)")
    m.add_argument("--drop_path_rate", type=FRACTION, default=0.1,
                   help="AFUNet: stochastic depth, official value (default: %(default)s; 0: off)")  # fmt: skip
    m.add_argument("--init_weights", default=None,
                   help="start from these weights (official or ours; fine-tuning) with a fresh optimiser")  # fmt: skip
    c = p.add_argument_group("run folder, validation and checkpoints")
    c.add_argument("--logdir", default=None, help="run folder (default: runs/<model>)")
    c.add_argument("--resume", default=None, help="'auto' (latest.pth in --logdir, if any) or a checkpoint path")
    c.add_argument("--overwrite", action="store_true",
                   help="start over in a --logdir that holds another run (removes its checkpoints and log; "
                        "default: refuse)")  # fmt: skip
    c.add_argument("--val_scenes", type=COUNT, default=0, help="hold out the last K training scenes for validation")
    c.add_argument("--val_path", default=None, help="or a folder of validation scenes")
    c.add_argument(
        "--val_every", type=POSITIVE_INT, default=1, help="validate every N epochs; best.pth is chosen on it"
    )
    c.add_argument("--eval_test_every", type=COUNT, default=0, help="also score the TEST set every N epochs (official "
                   "habit; logged as such, never used for selection)")  # fmt: skip
    c.add_argument("--save_every_iters", type=COUNT, default=1000, help="also write latest.pth every N iterations")
    c.add_argument("--keep_every", type=COUNT, default=50, help="keep epoch_NNNN.pth every N epochs (0: never)")
    c.add_argument("--log_every", type=POSITIVE_INT, default=50, help="log the loss every N iterations")
    c.add_argument("--max_iters", type=COUNT, default=0, help="stop (saving latest.pth) after N iterations in total")
    c.add_argument("--tensorboard", dest="tensorboard", action="store_true", default=None,
                   help="TensorBoard events in <logdir>/tensorboard (default: on when it is installed)")  # fmt: skip
    c.add_argument("--no_tensorboard", dest="tensorboard", action="store_false", help="no TensorBoard events")
    c.add_argument("--dist_timeout", type=POSITIVE, default=30.0,
                   help="torchrun: minutes a rank waits for the others (default: %(default)s)")  # fmt: skip
    c.add_argument("--vgg_random_init_for_tests", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.recipe is None:
        args.recipe = DEFAULT_RECIPE[args.model or "afunet"]
    for key, value in RECIPES[args.recipe].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.lr_step = args.lr_step or 0
    if args.lr_min is not None and args.lr_min > args.lr:
        p.error(f"--lr_min {args.lr_min:g} is above --lr {args.lr:g}: the rate decays from --lr to --lr_min")
    if args.variant and args.variant not in NETWORK_VARIANTS.get(args.model, []):
        p.error(f"--variant {args.variant} is not a variant of {args.model} "
                f"({', '.join(NETWORK_VARIANTS.get(args.model, [])) or 'it has none'})")  # fmt: skip
    for option in ("frm_depth", "ddim_steps"):
        if getattr(args, option) is not None and args.model != "lfdiff":
            p.error(f"--{option} is an LF-Diff option, not one of {args.model}")
    if args.model == "lfdiff":
        check_lfdiff_stage(p, args)
    args.logdir = args.logdir or f"runs/{args.model}"
    return args


# each stage's default variant: its first in models.lfdiff's order (s1, full)
LFDIFF_DEFAULT = {stage: next(v for v, s in LFDIFF_STAGE.items() if s == stage) for stage in (1, 2)}


def check_lfdiff_stage(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The variant defaults to its stage's (s1, full) and must belong to it; stage 2 starts from stage 1."""
    args.variant = args.variant or LFDIFF_DEFAULT[args.stage]
    if LFDIFF_STAGE[args.variant] != args.stage:
        p.error(f"--variant {args.variant} is trained in stage {LFDIFF_STAGE[args.variant]}, not --stage {args.stage}")
    if args.stage == 2 and not args.init_weights and not args.resume:
        p.error("--stage 2 starts from a stage-1 checkpoint (its frozen LPENet gives the prior to learn): "
                "give --init_weights STAGE1.pth")  # fmt: skip
    if args.ddim_steps is not None and args.stage == 1:
        p.error("--ddim_steps is a stage-2 option (the sampler of the diffusion model)")


def main(argv: list[str] | None = None) -> int:
    from utils.engine.trainer import run_training

    return run_training(parse_args(argv))


if __name__ == "__main__":
    sys.exit(run_cli(main))
